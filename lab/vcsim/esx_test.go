package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/vmware/govmomi/find"
	"github.com/vmware/govmomi/object"
	"github.com/vmware/govmomi/vim25/methods"
	"github.com/vmware/govmomi/vim25/mo"
	"github.com/vmware/govmomi/vim25/soap"
	"github.com/vmware/govmomi/vim25/types"
)

func TestESXInventoryCredentialsAndTLS(t *testing.T) {
	lb := startLab(t, baseSpec(t.TempDir(), "esx"))
	ctx := context.Background()

	// credentials: only the spec's log in
	if _, err := lb.c.SessionManager.UserSession(ctx); err != nil {
		t.Fatal(err)
	}
	c2 := lb.login(lb.spec.Username, lb.spec.Password)
	if err := c2.SessionManager.Logout(ctx); err != nil {
		t.Fatal(err)
	}
	for _, u := range []*url.Userinfo{url.UserPassword("root", "wrong"), url.UserPassword("admin", lb.spec.Password)} {
		err := c2.Login(ctx, u)
		if err == nil || !soap.IsSoapFault(err) {
			t.Fatalf("bad login: %v", err)
		}
		if _, ok := soap.ToSoapFault(err).VimFault().(types.InvalidLogin); !ok {
			t.Fatalf("bad login fault %T", soap.ToSoapFault(err).VimFault())
		}
	}

	// TLS: thumbprint of the served certificate, SANs
	if lb.l.Thumb == "" || len(strings.Split(lb.l.Thumb, ":")) != 32 {
		t.Fatalf("thumbprint %q", lb.l.Thumb)
	}
	if st, err := os.Stat(filepath.Join(lb.spec.StateDir, "key.pem")); err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("key.pem: %v %v", st, err)
	}

	// host facts
	f := find.NewFinder(lb.c.Client, true)
	dc, err := f.DefaultDatacenter(ctx)
	if err != nil {
		t.Fatal(err)
	}
	f.SetDatacenter(dc)
	host, err := f.DefaultHostSystem(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var h mo.HostSystem
	lb.props(host.Reference(), &h, "name", "hardware", "summary", "config.featureCapability", "capability")
	if h.Name != "esx01.lab" || h.Hardware.CpuPkg[0].Vendor != "intel" || h.Summary.Hardware.CpuModel != "Intel(R) Xeon(R) Gold 6248R" {
		t.Fatalf("host facts: %s %+v %s", h.Name, h.Hardware.CpuPkg, h.Summary.Hardware.CpuModel)
	}
	if !h.Capability.VmotionSupported || len(h.Config.FeatureCapability) != 2 || h.Config.FeatureCapability[1].Key != "cpuid.AVX2" {
		t.Fatalf("capability %+v %+v", h.Capability.VmotionSupported, h.Config.FeatureCapability)
	}

	// datastores: capacity from spec, freeSpace from bytes used, NFS info
	dss, err := f.DatastoreList(ctx, "*")
	if err != nil || len(dss) != 2 {
		t.Fatalf("datastores %v %v", dss, err)
	}
	var ds mo.Datastore
	lb.props(lb.l.dsRefs["IR-NFS"], &ds, "summary", "info")
	if ds.Summary.Capacity != 512<<20 || ds.Summary.Type != "NFS" || ds.Summary.FreeSpace > 512<<20-4<<20 {
		t.Fatalf("ds summary %+v", ds.Summary)
	}
	if nas, ok := ds.Info.(*types.NasDatastoreInfo); !ok || nas.Nas.RemoteHost != "vpower.lab" {
		t.Fatalf("nas info %T", ds.Info)
	}
}

func TestRegisterReadsVMX(t *testing.T) {
	lb := startLab(t, baseSpec(t.TempDir(), "esx"))
	ctx := context.Background()
	vm := lb.vm("ir-app01")
	m := lb.moVM(vm)
	if m.Config.Hardware.MemoryMB != 64 || m.Config.Hardware.NumCPU != 2 || m.Config.GuestId != "otherLinux64Guest" {
		t.Fatalf("config %+v", m.Config.Hardware)
	}
	disks := object.VirtualDeviceList(m.Config.Hardware.Device).SelectByType((*types.VirtualDisk)(nil))
	if len(disks) != 2 {
		t.Fatalf("disks %d", len(disks))
	}
	d0 := disks[0].(*types.VirtualDisk)
	d1 := disks[1].(*types.VirtualDisk)
	if d0.Backing.(*types.VirtualDiskFlatVer2BackingInfo).FileName != "[IR-NFS] ir-app01/ir-app01.vmdk" || d0.CapacityInBytes != 4<<20 {
		t.Fatalf("disk0 %+v", d0.Backing)
	}
	if d1.Backing.(*types.VirtualDiskFlatVer2BackingInfo).FileName != "[datastore1] ir-app01/ir-app01_1.vmdk" {
		t.Fatalf("disk1 %s", d1.Backing.(*types.VirtualDiskFlatVer2BackingInfo).FileName)
	}
	names := map[string]int64{}
	for _, f := range m.LayoutEx.File {
		names[f.Name] = f.Size
	}
	for _, want := range []string{"[IR-NFS] ir-app01/ir-app01.vmx", "[IR-NFS] ir-app01/ir-app01.nvram", "[IR-NFS] ir-app01/ir-app01-flat.vmdk", "[datastore1] ir-app01/ir-app01_1-flat.vmdk"} {
		if _, ok := names[want]; !ok {
			t.Fatalf("layoutEx lacks %s: %v", want, names)
		}
	}
	if names["[IR-NFS] ir-app01/ir-app01-flat.vmdk"] != 4<<20 {
		t.Fatal("flat size")
	}
	vmx, _ := os.ReadFile(lb.local("IR-NFS", "ir-app01/ir-app01.vmx"))
	for _, want := range []string{`scsi0:1.fileName = "/vmfs/volumes/datastore1/ir-app01/ir-app01_1.vmdk"`, `scsi0.virtualDev = "pvscsi"`, `memSize = "64"`} {
		if !strings.Contains(string(vmx), want) {
			t.Fatalf("vmx lacks %s:\n%s", want, vmx)
		}
	}

	// a copy of the VM's files registered under another folder reads its vmx
	src, dst := lb.local("IR-NFS", "ir-app01"), lb.local("datastore1", "copy01")
	if err := os.MkdirAll(dst, 0o755); err != nil {
		t.Fatal(err)
	}
	x, _ := readVMX(filepath.Join(src, "ir-app01.vmx"))
	x.Set("displayName", "copy01")
	x.Set("memSize", "128")
	x.Set("scsi0:1.present", "FALSE")
	_ = os.WriteFile(filepath.Join(dst, "ir-app01.vmx"), []byte(x.String()), 0o644)
	for _, f := range []string{"ir-app01.vmdk", "ir-app01-flat.vmdk", "ir-app01.nvram"} {
		b, _ := os.ReadFile(filepath.Join(src, f))
		_ = os.WriteFile(filepath.Join(dst, f), b, 0o644)
	}
	folder, pool := lb.folderPool()
	res := lb.must(folder.RegisterVM(ctx, "[datastore1] copy01/ir-app01.vmx", "", false, pool, nil))
	nvm := object.NewVirtualMachine(lb.c.Client, res.(types.ManagedObjectReference))
	nm := lb.moVM(nvm)
	if nm.Name != "copy01" || nm.Config.Hardware.MemoryMB != 128 || len(object.VirtualDeviceList(nm.Config.Hardware.Device).SelectByType((*types.VirtualDisk)(nil))) != 1 {
		t.Fatalf("registered %s %d", nm.Name, nm.Config.Hardware.MemoryMB)
	}
	// again: AlreadyExists
	if _, err := lb.wait(folder.RegisterVM(ctx, "[datastore1] copy01/ir-app01.vmx", "", false, pool, nil)); err == nil || !strings.Contains(err.Error(), "already exists") && !strings.Contains(err.Error(), "AlreadyExists") {
		t.Fatalf("re-register: %v", err)
	}
	// missing vmx: FileNotFound
	_, err := lb.wait(folder.RegisterVM(ctx, "[datastore1] nope/nope.vmx", "", false, pool, nil))
	if err == nil {
		t.Fatal("missing vmx registered")
	}
	if !strings.Contains(err.Error(), "not found") && !strings.Contains(err.Error(), "FileNotFound") {
		t.Fatalf("missing vmx: %v", err)
	}
}

func (lb *lab) folderPool() (*object.Folder, *object.ResourcePool) {
	ctx := context.Background()
	f := find.NewFinder(lb.c.Client, true)
	dc, err := f.DefaultDatacenter(ctx)
	if err != nil {
		lb.t.Fatal(err)
	}
	f.SetDatacenter(dc)
	folders, _ := dc.Folders(ctx)
	pools, err := f.ResourcePoolList(ctx, "*")
	if err != nil {
		lb.t.Fatal(err)
	}
	return folders.VmFolder, pools[0]
}

func TestSnapshotDeltaConsolidateExplicitWrites(t *testing.T) {
	lb := startLab(t, baseSpec(t.TempDir(), "esx"))
	ctx := context.Background()
	vm := lb.vm("ir-app01")
	base0 := lb.local("IR-NFS", "ir-app01/ir-app01-flat.vmdk")
	expected, _ := os.ReadFile(base0)

	// a write before any snapshot lands in the flat extent
	w0 := pattern(4096, 1)
	if code := lb.guestWrite("ir-app01", 0, 8192, w0); code != 200 {
		t.Fatalf("write %d", code)
	}
	copy(expected[8192:], w0)
	if got, _ := os.ReadFile(base0); !bytes.Equal(got, expected) {
		t.Fatal("flat write")
	}

	lb.must(vm.CreateSnapshot(ctx, "s1", "", false, false))
	delta := lb.local("IR-NFS", "ir-app01/ir-app01-000001.vmdk")
	desc, err := readDescriptor(delta)
	if err != nil || desc.CreateType != "vmfsSparse" || desc.ParentHint != "ir-app01.vmdk" || desc.Extent != "ir-app01-000001-delta.vmdk" {
		t.Fatalf("delta descriptor %+v %v", desc, err)
	}
	desc1, err := readDescriptor(lb.local("IR-NFS", "ir-app01/ir-app01_1-000001.vmdk"))
	if err != nil || desc1.ParentHint != "/vmfs/volumes/datastore1/ir-app01/ir-app01_1.vmdk" {
		t.Fatalf("delta of disk on other datastore %+v %v", desc1, err)
	}
	m := lb.moVM(vm)
	b := object.VirtualDeviceList(m.Config.Hardware.Device).SelectByType((*types.VirtualDisk)(nil))[0].(*types.VirtualDisk).Backing.(*types.VirtualDiskFlatVer2BackingInfo)
	if b.FileName != "[IR-NFS] ir-app01/ir-app01-000001.vmdk" || b.Parent == nil || b.Parent.FileName != "[IR-NFS] ir-app01/ir-app01.vmdk" {
		t.Fatalf("backing after snapshot %s", b.FileName)
	}
	vmx, _ := readVMX(lb.local("IR-NFS", "ir-app01/ir-app01.vmx"))
	if vmx.Get("scsi0:0.fileName") != "ir-app01-000001.vmdk" {
		t.Fatal("vmx not rewritten")
	}
	if !fileExists(lb.local("IR-NFS", "ir-app01/ir-app01.vmsd")) || !fileExists(lb.local("IR-NFS", "ir-app01/ir-app01-Snapshot1.vmsn")) {
		t.Fatal("vmsd/vmsn")
	}
	baseHash := fileHash(t, base0)
	deltaExt := lb.local("IR-NFS", "ir-app01/ir-app01-000001-delta.vmdk")
	st0, _ := os.Stat(deltaExt)

	writes := []struct {
		off  int64
		data []byte
	}{{0, pattern(4096, 2)}, {4096 * 100, pattern(8192, 3)}, {0, pattern(4096, 4)}, {12345, pattern(100, 5)}}
	for _, w := range writes {
		if code := lb.guestWrite("ir-app01", 0, w.off, w.data); code != 200 {
			t.Fatalf("write %d", code)
		}
		copy(expected[w.off:], w.data)
	}
	if fileHash(t, base0) != baseHash {
		t.Fatal("frozen base changed")
	}
	st1, _ := os.Stat(deltaExt)
	if st1.Size() <= st0.Size() || st1.Size() > 64<<10 {
		t.Fatalf("delta size %d -> %d", st0.Size(), st1.Size())
	}
	if !bytes.Equal(lb.logical("ir-app01", 0), expected) {
		t.Fatal("chain reader content")
	}
	lb.must(vm.RemoveSnapshot(ctx, "s1", false, nil))
	if got, _ := os.ReadFile(base0); !bytes.Equal(got, expected) {
		t.Fatal("merged base differs from expected content")
	}
	if fileExists(delta) || fileExists(deltaExt) || fileExists(lb.local("IR-NFS", "ir-app01/ir-app01-Snapshot1.vmsn")) {
		t.Fatal("delta files left")
	}
	vmx, _ = readVMX(lb.local("IR-NFS", "ir-app01/ir-app01.vmx"))
	if vmx.Get("scsi0:0.fileName") != "ir-app01.vmdk" {
		t.Fatal("vmx not restored")
	}
	// the writer continues into the base
	w := pattern(4096, 9)
	lb.guestWrite("ir-app01", 0, 4096*7, w)
	copy(expected[4096*7:], w)
	if got, _ := os.ReadFile(base0); !bytes.Equal(got, expected) {
		t.Fatal("write after merge")
	}
}

func TestRunningWriterSnapshotRemoveAll(t *testing.T) {
	lb := startLab(t, baseSpec(t.TempDir(), "esx"))
	ctx := context.Background()
	vm := lb.vm("ir-app01")
	base0 := lb.local("IR-NFS", "ir-app01/ir-app01-flat.vmdk")
	lb.setRate("ir-app01", 2<<20)
	time.Sleep(300 * time.Millisecond)
	lb.must(vm.CreateSnapshot(ctx, "s1", "", false, false))
	frozen := fileHash(t, base0)
	time.Sleep(400 * time.Millisecond)
	lb.must(vm.CreateSnapshot(ctx, "s2", "", false, false))
	time.Sleep(400 * time.Millisecond)
	if fileHash(t, base0) != frozen {
		t.Fatal("frozen base changed while writer runs")
	}
	if st, _ := os.Stat(lb.local("IR-NFS", "ir-app01/ir-app01-000002-delta.vmdk")); st == nil || st.Size() <= deltaHeaderSize {
		t.Fatal("writer does not write into the newest delta")
	}
	lb.setRate("ir-app01", 0)
	time.Sleep(250 * time.Millisecond)
	want0, want1 := lb.logical("ir-app01", 0), lb.logical("ir-app01", 1)
	lb.must(vm.RemoveAllSnapshot(ctx, nil))
	if got, _ := os.ReadFile(base0); !bytes.Equal(got, want0) {
		t.Fatal("disk0 after RemoveAllSnapshots")
	}
	if got, _ := os.ReadFile(lb.local("datastore1", "ir-app01/ir-app01_1-flat.vmdk")); !bytes.Equal(got, want1) {
		t.Fatal("disk1 after RemoveAllSnapshots")
	}
	m := lb.moVM(vm)
	if m.Snapshot != nil {
		t.Fatal("snapshot tree left")
	}
	for _, f := range m.LayoutEx.File {
		if strings.Contains(f.Name, "-00000") || strings.HasSuffix(f.Name, ".vmsn") {
			t.Fatalf("layoutEx still lists %s", f.Name)
		}
	}
}

func TestConsolidateRegisteredDeltaChain(t *testing.T) {
	lb := startLab(t, baseSpec(t.TempDir(), "esx"))
	ctx := context.Background()
	vm := lb.vm("ir-app01")
	lb.must(vm.CreateSnapshot(ctx, "s1", "", false, false))
	w := pattern(4096, 7)
	lb.guestWrite("ir-app01", 0, 4096*3, w)
	want := lb.logical("ir-app01", 0)
	lb.must(vm.PowerOff(ctx))
	if err := vm.Unregister(ctx); err != nil {
		t.Fatal(err)
	}
	// the registered VM points at the delta but has no snapshot: consolidation is needed
	folder, pool := lb.folderPool()
	res := lb.must(folder.RegisterVM(ctx, "[IR-NFS] ir-app01/ir-app01.vmx", "", false, pool, nil))
	nvm := object.NewVirtualMachine(lb.c.Client, res.(types.ManagedObjectReference))
	m := lb.moVM(nvm)
	if !m.Runtime.ConsolidationNeeded {
		t.Fatal("consolidationNeeded false")
	}
	b := object.VirtualDeviceList(m.Config.Hardware.Device).SelectByType((*types.VirtualDisk)(nil))[0].(*types.VirtualDisk).Backing.(*types.VirtualDiskFlatVer2BackingInfo)
	if b.Parent == nil || b.Parent.FileName != "[IR-NFS] ir-app01/ir-app01.vmdk" {
		t.Fatal("registered delta has no parent backing")
	}
	lb.must(nvm.PowerOn(ctx))
	if _, err := lb.wait(consolidate(ctx, lb, nvm)); err != nil {
		t.Fatal(err)
	}
	if got, _ := os.ReadFile(lb.local("IR-NFS", "ir-app01/ir-app01-flat.vmdk")); !bytes.Equal(got, want) {
		t.Fatal("consolidated base")
	}
	m = lb.moVM(nvm)
	if m.Runtime.ConsolidationNeeded {
		t.Fatal("still needs consolidation")
	}
}

func TestSuspendResumeAndHeartbeat(t *testing.T) {
	lb := startLab(t, baseSpec(t.TempDir(), "esx"))
	ctx := context.Background()
	vm := lb.vm("ir-app01")
	eventually(t, 5*time.Second, "heartbeat green", func() bool {
		m := lb.moVM(vm)
		return m.GuestHeartbeatStatus == types.ManagedEntityStatusGreen && m.Guest.ToolsRunningStatus == "guestToolsRunning"
	})
	m := lb.moVM(vm)
	if len(m.Runtime.FeatureRequirement) != 2 {
		t.Fatalf("featureRequirement %+v", m.Runtime.FeatureRequirement)
	}
	lb.must(vm.Suspend(ctx))
	vmx, _ := readVMX(lb.local("IR-NFS", "ir-app01/ir-app01.vmx"))
	vmss := vmx.Get("checkpoint.vmState")
	st, err := os.Stat(lb.local("IR-NFS", "ir-app01/"+vmss))
	if vmss == "" || err != nil || st.Size() != 64<<20/1024 {
		t.Fatalf("vmss %q %v", vmss, err)
	}
	m = lb.moVM(vm)
	if m.Runtime.PowerState != "suspended" || m.GuestHeartbeatStatus != types.ManagedEntityStatusGray {
		t.Fatal("suspended state")
	}
	if code := lb.guestWrite("ir-app01", 0, 0, pattern(4096, 1)); code != 409 {
		t.Fatalf("write to suspended VM: %d", code)
	}
	lb.must(vm.PowerOn(ctx))
	if fileExists(lb.local("IR-NFS", "ir-app01/"+vmss)) {
		t.Fatal("vmss not consumed")
	}
	vmx, _ = readVMX(lb.local("IR-NFS", "ir-app01/ir-app01.vmx"))
	if vmx.Get("checkpoint.vmState") != "" {
		t.Fatal("checkpoint.vmState left")
	}
	lb.must(vm.Suspend(ctx))
	lb.must(vm.PowerOff(ctx))
	entries, _ := os.ReadDir(lb.local("IR-NFS", "ir-app01"))
	for _, e := range entries {
		if strings.HasSuffix(e.Name(), ".vmss") {
			t.Fatal("power off left a vmss")
		}
	}
}

func TestFolderAuthPutDeleteRange(t *testing.T) {
	lb := startLab(t, baseSpec(t.TempDir(), "esx"))
	if res, _ := lb.folder("GET", "IR-NFS", "ir-app01/ir-app01.vmx", nil, "", nil); res == nil || res.StatusCode != 401 {
		t.Fatalf("no auth: %v", res)
	}
	res, body := lb.folder("GET", "IR-NFS", "ir-app01/ir-app01.vmx", nil, "cookie", nil)
	if res.StatusCode != 200 || !strings.Contains(string(body), "displayName") {
		t.Fatalf("cookie GET %d", res.StatusCode)
	}
	// locked: the running VM writes into its flat extent
	res, body = lb.folder("GET", "IR-NFS", "ir-app01/ir-app01-flat.vmdk", nil, "basic", nil)
	if res.StatusCode != 500 || !strings.Contains(string(body), "locked") {
		t.Fatalf("GET of a running VM's writable extent: %d %s", res.StatusCode, body)
	}
	// after a snapshot the base is read-only (readable) and the new delta is locked
	ctx := context.Background()
	vm := lb.vm("ir-app01")
	lb.must(vm.CreateSnapshot(ctx, "s1", "", false, false))
	res, body = lb.folder("GET", "IR-NFS", "ir-app01/ir-app01-flat.vmdk", nil, "basic", map[string]string{"Range": "bytes=4096-8191"})
	flat, _ := os.ReadFile(lb.local("IR-NFS", "ir-app01/ir-app01-flat.vmdk"))
	if res.StatusCode != 206 || !bytes.Equal(body, flat[4096:8192]) {
		t.Fatalf("range GET %d", res.StatusCode)
	}
	if res, _ := lb.folder("GET", "IR-NFS", "ir-app01/ir-app01-000001-delta.vmdk", nil, "basic", nil); res.StatusCode != 500 {
		t.Fatalf("GET of the running delta: %d", res.StatusCode)
	}
	lb.must(vm.PowerOff(ctx))
	if res, _ := lb.folder("GET", "IR-NFS", "ir-app01/ir-app01-000001-delta.vmdk", nil, "basic", nil); res.StatusCode != 200 {
		t.Fatalf("GET of a stopped VM's delta: %d", res.StatusCode)
	}
	if res, _ := lb.folder("PUT", "datastore1", "up/a.bin", []byte("one"), "cookie", nil); res.StatusCode != 201 {
		t.Fatalf("PUT new %d", res.StatusCode)
	}
	if res, _ := lb.folder("PUT", "datastore1", "up/a.bin", []byte("two"), "cookie", nil); res.StatusCode != 200 {
		t.Fatalf("PUT overwrite %d", res.StatusCode)
	}
	if b, _ := os.ReadFile(lb.local("datastore1", "up/a.bin")); string(b) != "two" {
		t.Fatal("PUT content")
	}
	if res, _ := lb.folder("DELETE", "datastore1", "up/a.bin", nil, "cookie", nil); res.StatusCode != 204 || fileExists(lb.local("datastore1", "up/a.bin")) {
		t.Fatalf("DELETE %d", res.StatusCode)
	}
	if res, _ := lb.folder("DELETE", "datastore1", "up/a.bin", nil, "cookie", nil); res.StatusCode != 404 {
		t.Fatalf("DELETE missing %d", res.StatusCode)
	}
	// a PUT that does not fit the datastore's free space: 507 Insufficient Storage
	req, _ := http.NewRequest("PUT", strings.TrimSuffix(lb.l.URL, "/sdk")+"/folder/up/huge.bin?dcPath=ha-datacenter&dsName=datastore1",
		io.LimitReader(zeroReader{}, 600<<20))
	req.ContentLength = 600 << 20
	req.SetBasicAuth(lb.spec.Username, lb.spec.Password)
	if res, err := lb.http.Do(req); err != nil || res.StatusCode != 507 {
		t.Fatalf("PUT beyond free space: %v %v", res, err)
	}
	// logout invalidates the cookie
	su, _ := url.Parse(lb.l.URL)
	cookies := lb.c.Client.Jar.Cookies(su)
	if err := lb.c.SessionManager.Logout(context.Background()); err != nil {
		t.Fatal(err)
	}
	r2, _ := http.NewRequest("GET", strings.TrimSuffix(lb.l.URL, "/sdk")+"/folder/ir-app01/ir-app01.vmx?dcPath=ha-datacenter&dsName=IR-NFS", nil)
	for _, c := range cookies {
		r2.AddCookie(c)
	}
	if res, err := lb.http.Do(r2); err != nil || res.StatusCode != 401 {
		t.Fatalf("GET after logout: %v %v", res, err)
	}
}

func TestControlCallLogAndFaults(t *testing.T) {
	lb := startLab(t, baseSpec(t.TempDir(), "esx"))
	ctx := context.Background()
	vm := lb.vm("ir-app01")
	if code, _ := lb.control("GET", "/health", nil); code != 200 {
		t.Fatal("health")
	}
	lb.control("DELETE", "/calls", nil)
	// soap fault with count 1
	if code, b := lb.control("POST", "/faults", map[string]any{"kind": "soap", "method": "PowerOffVM_Task", "object": vm.Reference().Value, "fault": "InvalidState", "count": 1}); code != 201 {
		t.Fatalf("add rule %d %s", code, b)
	}
	_, err := lb.wait(vm.PowerOff(ctx))
	if err == nil || !soap.IsSoapFault(err) {
		t.Fatalf("injected fault: %v", err)
	}
	if _, ok := soap.ToSoapFault(err).VimFault().(types.InvalidState); !ok {
		t.Fatalf("fault type %T", soap.ToSoapFault(err).VimFault())
	}
	lb.must(vm.PowerOff(ctx)) // count exhausted
	_ = lb.moVM(vm)           // read-only calls are not logged
	code, b := lb.control("GET", "/calls?since=0", nil)
	var calls struct {
		Calls []callEntry `json:"calls"`
	}
	if code != 200 || json.Unmarshal(b, &calls) != nil {
		t.Fatal("calls")
	}
	if len(calls.Calls) != 2 || calls.Calls[0].Method != "PowerOffVM_Task" || calls.Calls[0].OK || *calls.Calls[0].Fault != "InvalidState" || !calls.Calls[1].OK || calls.Calls[1].Object != vm.Reference().Value {
		t.Fatalf("call log %s", b)
	}
	// http-status 503 twice on PUT
	lb.control("POST", "/faults", map[string]any{"kind": "http-status", "path": "/folder/", "method": "PUT", "status": 503, "count": 2})
	for i := range 3 {
		res, _ := lb.folder("PUT", "datastore1", "f.bin", []byte("x"), "cookie", nil)
		want := 503
		if i == 2 {
			want = 201
		}
		if res.StatusCode != want {
			t.Fatalf("put %d: %d", i, res.StatusCode)
		}
	}
	// http reset after N bytes
	lb.control("POST", "/faults", map[string]any{"kind": "http-reset", "path": "ir-app01-flat.vmdk", "method": "GET", "afterBytes": 100000, "count": 1})
	res, body := lb.folder("GET", "IR-NFS", "ir-app01/ir-app01-flat.vmdk", nil, "cookie", nil)
	if res != nil && len(body) == 4<<20 {
		t.Fatal("reset rule did not fire")
	}
	res, body = lb.folder("GET", "IR-NFS", "ir-app01/ir-app01-flat.vmdk", nil, "cookie", nil)
	if res == nil || len(body) != 4<<20 {
		t.Fatal("GET after reset rule exhausted")
	}
	_, b = lb.control("GET", "/calls?since=2", nil)
	if !strings.Contains(string(b), `"HTTP PUT"`) || !strings.Contains(string(b), "[datastore1] f.bin") {
		t.Fatalf("http calls %s", b)
	}
	// bad token
	req, _ := http.NewRequest("GET", strings.TrimSuffix(lb.l.URL, "/sdk")+"/quickmig/health", nil)
	req.Header.Set("Authorization", "Bearer nope")
	if res, err := lb.http.Do(req); err != nil || res.StatusCode != 401 {
		t.Fatalf("bad token: %v %v", res, err)
	}
}

func TestRemoveDatastore(t *testing.T) {
	lb := startLab(t, baseSpec(t.TempDir(), "esx"))
	ctx := context.Background()
	f := find.NewFinder(lb.c.Client, true)
	dc, _ := f.DefaultDatacenter(ctx)
	f.SetDatacenter(dc)
	host, _ := f.DefaultHostSystem(ctx)
	dss, _ := host.ConfigManager().DatastoreSystem(ctx)
	ds := object.NewDatastore(lb.c.Client, lb.l.dsRefs["IR-NFS"])
	err := dss.Remove(ctx, ds)
	if err == nil || !strings.Contains(err.Error(), "in use") {
		t.Fatalf("remove in-use datastore: %v", err)
	}
	vm := lb.vm("ir-app01")
	lb.must(vm.PowerOff(ctx))
	if err := vm.Unregister(ctx); err != nil {
		t.Fatal(err)
	}
	if err := dss.Remove(ctx, ds); err != nil {
		t.Fatal(err)
	}
	var h mo.HostSystem
	lb.props(host.Reference(), &h, "datastore")
	if len(h.Datastore) != 1 {
		t.Fatalf("host datastores %v", h.Datastore)
	}
}

type zeroReader struct{}

func (zeroReader) Read(p []byte) (int, error) { clear(p); return len(p), nil }

func consolidate(ctx context.Context, lb *lab, vm *object.VirtualMachine) (*object.Task, error) {
	res, err := methods.ConsolidateVMDisks_Task(ctx, lb.c.Client, &types.ConsolidateVMDisks_Task{This: vm.Reference()})
	if err != nil {
		return nil, err
	}
	return object.NewTask(lb.c.Client, res.Returnval), nil
}
