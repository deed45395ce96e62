package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/vmware/govmomi/find"
	"github.com/vmware/govmomi/object"
	"github.com/vmware/govmomi/vim25/methods"
	"github.com/vmware/govmomi/vim25/mo"
	"github.com/vmware/govmomi/vim25/types"
)

func (lb *lab) host(name string) *object.HostSystem {
	return object.NewHostSystem(lb.c.Client, lb.l.hostRefs[name])
}

func TestVCenterInventoryLicences(t *testing.T) {
	lb := startLab(t, baseSpec(t.TempDir(), "vcenter"))
	ctx := context.Background()
	if !lb.c.IsVC() {
		t.Fatal("not a vCenter")
	}
	f := find.NewFinder(lb.c.Client, true)
	dc, err := f.Datacenter(ctx, "DC1")
	if err != nil {
		t.Fatal(err)
	}
	f.SetDatacenter(dc)
	cl, err := f.ClusterComputeResource(ctx, "Prod")
	if err != nil {
		t.Fatal(err)
	}
	hosts, _ := cl.Hosts(ctx)
	if len(hosts) != 2 {
		t.Fatalf("cluster hosts %d", len(hosts))
	}
	var ds mo.Datastore
	lb.props(lb.l.dsRefs["IR-NFS"], &ds, "host", "summary")
	if len(ds.Host) != 2 {
		t.Fatalf("shared datastore mounts %d", len(ds.Host))
	}
	var h mo.HostSystem
	lb.props(lb.l.hostRefs["esx02.lab"], &h, "hardware", "summary")
	if h.Hardware.CpuPkg[0].Vendor != "amd" || h.Summary.Hardware.CpuModel != "AMD EPYC 7543" {
		t.Fatal("cpu facts of esx02")
	}
	var lm mo.LicenseManager
	lb.props(*lb.c.ServiceContent.LicenseManager, &lm, "licenses", "licenseAssignmentManager")
	if !strings.Contains(toJSON(lm.Licenses), "vmotion") {
		t.Fatalf("licences %s", toJSON(lm.Licenses))
	}
	res, err := methods.QueryAssignedLicenses(ctx, lb.c.Client, &types.QueryAssignedLicenses{This: *lm.LicenseAssignmentManager, EntityId: lb.l.hostRefs["esx01.lab"].Value})
	if err != nil || len(res.Returnval) != 1 || !strings.Contains(res.Returnval[0].AssignedLicense.Name, "esx01.lab") {
		t.Fatalf("assigned licence %v %s", err, toJSON(res))
	}
}

func toJSON(v any) string { b, _ := json.Marshal(v); return string(b) }

func TestVCenterRelocate(t *testing.T) {
	spec := baseSpec(t.TempDir(), "vcenter")
	spec.VMs[0].GuestWriteBytesPerSec = 1 << 20
	lb := startLab(t, spec)
	ctx := context.Background()
	vm := lb.vm("ir-app01")

	// unknown references: faults, never a crash
	bogus := types.ManagedObjectReference{Type: "HostSystem", Value: "host-999"}
	if _, err := lb.wait(vm.Relocate(ctx, types.VirtualMachineRelocateSpec{Host: &bogus}, types.VirtualMachineMovePriorityDefaultPriority)); err == nil || !strings.Contains(err.Error(), "has already been deleted or has not been completely created") && !strings.Contains(err.Error(), "ManagedObjectNotFound") {
		t.Fatalf("unknown host: %v", err)
	}
	bogusDS := types.ManagedObjectReference{Type: "Datastore", Value: "datastore-999"}
	if _, err := lb.wait(vm.Relocate(ctx, types.VirtualMachineRelocateSpec{Datastore: &bogusDS}, types.VirtualMachineMovePriorityDefaultPriority)); err == nil {
		t.Fatal("unknown datastore accepted")
	}

	// vMotion needs the licence feature
	h2 := lb.l.hostRefs["esx02.lab"]
	lb.l.spec.LicenseFeatures = []string{"storagevmotion"}
	_, err := lb.wait(vm.Relocate(ctx, types.VirtualMachineRelocateSpec{Host: &h2}, types.VirtualMachineMovePriorityDefaultPriority))
	if err == nil || !strings.Contains(err.Error(), "VMotionNotLicensed") && !strings.Contains(strings.ToLower(err.Error()), "licens") {
		t.Fatalf("unlicensed vMotion: %v", err)
	}
	lb.l.spec.LicenseFeatures = []string{"vmotion", "storagevmotion"}
	// ... and the capability on both hosts
	hs := lb.l.reg.Get(h2).(interface {
		Reference() types.ManagedObjectReference
	})
	_ = hs
	lb.setVMotion("esx02.lab", false)
	if _, err := lb.wait(vm.Relocate(ctx, types.VirtualMachineRelocateSpec{Host: &h2}, types.VirtualMachineMovePriorityDefaultPriority)); err == nil {
		t.Fatal("vMotion to a host without vMotion accepted")
	}
	lb.setVMotion("esx02.lab", true)
	lb.must(vm.Relocate(ctx, types.VirtualMachineRelocateSpec{Host: &h2}, types.VirtualMachineMovePriorityDefaultPriority))
	m := lb.moVM(vm)
	if *m.Runtime.Host != h2 {
		t.Fatal("host not changed")
	}

	// Storage vMotion: the home folder and disk 0 to datastore1; disk 1 stays.
	ds1 := lb.l.dsRefs["datastore1"]
	disks := object.VirtualDeviceList(m.Config.Hardware.Device).SelectByType((*types.VirtualDisk)(nil))
	nfs := lb.l.dsRefs["IR-NFS"]
	spec2 := types.VirtualMachineRelocateSpec{Datastore: &ds1, Disk: []types.VirtualMachineRelocateSpecDiskLocator{
		{DiskId: disks[1].GetVirtualDevice().Key, Datastore: ds1},
	}}
	lb.must(vm.CreateSnapshot(ctx, "before-move", "", false, false))
	lb.must(vm.Relocate(ctx, spec2, types.VirtualMachineMovePriorityDefaultPriority))
	if fileExists(lb.local("IR-NFS", "ir-app01/ir-app01.vmx")) || !fileExists(lb.local("datastore1", "ir-app01/ir-app01.vmx")) {
		t.Fatal("vmx not moved")
	}
	for _, f := range []string{"ir-app01-flat.vmdk", "ir-app01-000001.vmdk", "ir-app01-000001-delta.vmdk", "ir-app01_1-flat.vmdk", "ir-app01.nvram"} {
		if !fileExists(lb.local("datastore1", "ir-app01/"+f)) {
			t.Fatalf("%s not moved", f)
		}
	}
	m = lb.moVM(vm)
	if m.Config.Files.VmPathName != "[datastore1] ir-app01/ir-app01.vmx" {
		t.Fatal(m.Config.Files.VmPathName)
	}
	for _, f := range m.LayoutEx.File {
		if strings.HasPrefix(f.Name, "[IR-NFS]") {
			t.Fatalf("layoutEx still lists %s", f.Name)
		}
	}
	vmx, _ := readVMX(lb.local("datastore1", "ir-app01/ir-app01.vmx"))
	if vmx.Get("scsi0:1.fileName") != "ir-app01_1-000001.vmdk" {
		t.Fatalf("vmx disk 1: %s", vmx.Get("scsi0:1.fileName"))
	}
	// the writer keeps writing after the move (into the newest delta)
	ext := lb.local("datastore1", "ir-app01/ir-app01-000001-delta.vmdk")
	st0, _ := os.Stat(ext)
	eventually(t, 3*time.Second, "writes after the move", func() bool {
		st1, _ := os.Stat(ext)
		return st1 != nil && st1.Size() > st0.Size()
	})

	// storage vMotion without capability on a running VM: refused
	lb.setSVMotion("esx02.lab", false)
	if _, err := lb.wait(vm.Relocate(ctx, types.VirtualMachineRelocateSpec{Datastore: &nfs}, types.VirtualMachineMovePriorityDefaultPriority)); err == nil {
		t.Fatal("svMotion without capability accepted")
	}
}

func (lb *lab) setVMotion(host string, on bool) {
	h := lb.l.reg.Get(lb.l.hostRefs[host]).(interface {
		Reference() types.ManagedObjectReference
	})
	hs := lb.hostObj(h.Reference())
	lb.l.reg.WithLock(lb.l.bgCtx(), hs, func() { hs.Capability.VmotionSupported = on })
}

func (lb *lab) setSVMotion(host string, on bool) {
	hs := lb.hostObj(lb.l.hostRefs[host])
	lb.l.reg.WithLock(lb.l.bgCtx(), hs, func() { hs.Capability.StorageVMotionSupported = on })
}

func TestRestartKeepsFilesAndJournal(t *testing.T) {
	dir := t.TempDir()
	spec := baseSpec(dir, "esx")
	lb := startLab(t, spec)
	ctx := context.Background()
	vm := lb.vm("ir-app01")
	lb.guestWrite("ir-app01", 0, 0, pattern(4096, 42))
	lb.must(vm.CreateSnapshot(ctx, "s1", "", false, false))
	lb.guestWrite("ir-app01", 0, 4096, pattern(4096, 43))
	lb.must(vm.Suspend(ctx))
	flat := fileHash(t, lb.local("IR-NFS", "ir-app01/ir-app01-flat.vmdk"))
	want := lb.logical("ir-app01", 0)
	// a VM registered after start (copy of the vmx with the same disks is not needed: a new empty-disk VM)
	_ = os.MkdirAll(lb.local("datastore1", "extra"), 0o755)
	x := &VMX{}
	x.Set("displayName", "extra")
	x.Set("memSize", "32")
	x.Set("numvcpus", "1")
	x.Set("guestOS", "otherGuest")
	_ = os.WriteFile(lb.local("datastore1", "extra/extra.vmx"), []byte(x.String()), 0o644)
	folder, pool := lb.folderPool()
	res := lb.must(folder.RegisterVM(ctx, "[datastore1] extra/extra.vmx", "", false, pool, nil))
	lb.must(object.NewVirtualMachine(lb.c.Client, res.(types.ManagedObjectReference)).PowerOn(ctx))
	thumb := lb.l.Thumb
	lb.l.Stop()

	spec2 := baseSpec(dir, "esx")
	lb2 := startLab(t, spec2)
	if lb2.l.Thumb != thumb {
		t.Fatal("certificate changed")
	}
	if fileHash(t, lb2.local("IR-NFS", "ir-app01/ir-app01-flat.vmdk")) != flat {
		t.Fatal("disk regenerated")
	}
	if !bytes.Equal(lb2.logical("ir-app01", 0), want) {
		t.Fatal("chain content changed")
	}
	m := lb2.moVM(lb2.vm("ir-app01"))
	if m.Runtime.PowerState != "suspended" {
		t.Fatalf("power %s", m.Runtime.PowerState)
	}
	e := lb2.moVM(lb2.vm("extra"))
	if e.Runtime.PowerState != "poweredOn" || e.Config.Hardware.MemoryMB != 32 {
		t.Fatalf("journaled VM %s %d", e.Runtime.PowerState, e.Config.Hardware.MemoryMB)
	}
	// an unregistered spec VM stays unregistered
	lb2.must(lb2.vm("extra").PowerOff(ctx))
	if err := lb2.vm("ir-app01").Unregister(ctx); err != nil {
		t.Fatal(err)
	}
	lb2.l.Stop()
	lb3 := startLab(t, baseSpec(dir, "esx"))
	if vs := lb3.l.vmByName("ir-app01"); vs != nil {
		t.Fatal("unregistered spec VM came back")
	}
	if vs := lb3.l.vmByName("extra"); vs == nil {
		t.Fatal("journaled VM lost")
	}
}

func TestSharedNFSAcrossEndpoints(t *testing.T) {
	specA := baseSpec(t.TempDir(), "esx")
	specA.VMs[0].Disks = specA.VMs[0].Disks[:1] // only on the shared datastore
	a := startLab(t, specA)
	specB := baseSpec(t.TempDir(), "esx")
	specB.Name = "esx-b"
	specB.Datastores[1].Path = a.spec.Datastores[1].Path // the same NFS export
	specB.VMs = nil
	b := startLab(t, specB)
	ctx := context.Background()
	// endpoint B sees A's VM folder on the shared datastore and can register it
	folder, pool := b.folderPool()
	res := b.must(folder.RegisterVM(ctx, "[IR-NFS] ir-app01/ir-app01.vmx", "", false, pool, nil))
	m := b.moVM(object.NewVirtualMachine(b.c.Client, res.(types.ManagedObjectReference)))
	if m.Name != "ir-app01" || m.Runtime.PowerState != "poweredOff" {
		t.Fatalf("%s %s", m.Name, m.Runtime.PowerState)
	}
	// RefreshDatastore: freeSpace follows the bytes under the directory
	var before, after mo.Datastore
	ds := object.NewDatastore(b.c.Client, b.l.dsRefs["datastore1"])
	b.props(ds.Reference(), &before, "summary")
	if res, _ := b.folder("PUT", "datastore1", "blob.bin", bytes.Repeat([]byte{1}, 3<<20), "basic", nil); res.StatusCode != 201 {
		t.Fatal("put")
	}
	if _, err := methods.RefreshDatastore(ctx, b.c.Client, &types.RefreshDatastore{This: ds.Reference()}); err != nil {
		t.Fatal(err)
	}
	b.props(ds.Reference(), &after, "summary")
	if d := before.Summary.FreeSpace - after.Summary.FreeSpace; d < 3<<20 || d > 4<<20 {
		t.Fatalf("freeSpace delta %d", d)
	}
}
