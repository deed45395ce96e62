package main

import (
	"context"
	"errors"
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vmware/govmomi/task"
	"github.com/vmware/govmomi/vim25/mo"
	"github.com/vmware/govmomi/vim25/soap"
	"github.com/vmware/govmomi/vim25/types"
)

// Times below are asserted with a hard lower bound (the lab may never be faster than its rates)
// and a loose upper bound (a busy machine may be slower): within [want, 3·want + 2 s].
func within(t *testing.T, what string, got, want time.Duration) {
	t.Helper()
	if got < want-30*time.Millisecond || got > 3*want+2*time.Second {
		t.Fatalf("%s took %v, want %v (lower bound strict, upper bound 3x + 2s)", what, got, want)
	}
}

func mbps(v float64) *float64 { return &v }

func TestProfileDefaults(t *testing.T) {
	s := baseSpec(t.TempDir(), "esx")
	s.Profile, s.SuspendScale, s.Guest = "", 0, GuestTimes{}
	if err := s.validate(); err != nil {
		t.Fatal(err)
	}
	e := s.effective()
	if e.Profile != "realistic" || e.SuspendScale != 1 || e.BootSec != 40 || e.ResumeSec != 2 || e.ShutdownSec != 20 {
		t.Fatalf("realistic: %+v", e)
	}
	if e.Datastores[0].ReadMBps != 400 || e.Datastores[0].WriteMBps != 400 || e.Datastores[1].ReadMBps != 150 || e.Hosts[0].LinkGbps != 10 || e.Hosts[0].MaxFolderStreams != 8 {
		t.Fatalf("realistic rates: %+v", e)
	}
	q := baseSpec(t.TempDir(), "esx")
	q.Guest = GuestTimes{}
	q.Datastores[1].WriteMBps = mbps(100)
	if err := q.validate(); err != nil {
		t.Fatal(err)
	}
	if e := q.effective(); e.SuspendScale != 1024 || e.BootSec != 1 || e.Datastores[0].ReadMBps != 0 || e.Datastores[1].WriteMBps != 100 {
		t.Fatalf("quick with an override: %+v", e)
	}
	bad := baseSpec(t.TempDir(), "esx")
	bad.Profile = "fast"
	if err := bad.validate(); err == nil || !strings.Contains(err.Error(), "profile must be realistic or quick") {
		t.Fatalf("bad profile: %v", err)
	}
	lb := startLab(t, baseSpec(t.TempDir(), "esx"))
	if code, b := lb.control("GET", "/profile", nil); code != 200 || !strings.Contains(string(b), `"profile":"quick"`) || !strings.Contains(string(b), `"bootSec":0.5`) {
		t.Fatalf("profile: %d %s", code, b)
	}
}

func guestSpec(t *testing.T) *Spec {
	s := baseSpec(t.TempDir(), "esx")
	s.Guest = GuestTimes{BootSec: f64(1), ResumeSec: f64(0.4), ShutdownSec: f64(0.8)}
	s.VMs[0].Power = "poweredOff"
	s.VMs = append(s.VMs,
		VMSpec{Name: "notools", Host: "esx01.lab", Datastore: "datastore1", MemoryMiB: 16, Power: "poweredOn", Tools: "none", Disks: []DiskSpec{{SizeMiB: 1}}, Seed: 2},
		VMSpec{Name: "hung", Host: "esx01.lab", Datastore: "datastore1", MemoryMiB: 16, Power: "poweredOn", IgnoreShutdown: true, Disks: []DiskSpec{{SizeMiB: 1}}, Seed: 3})
	return s
}

func TestGuestTimesToolsAndShutdown(t *testing.T) {
	lb := startLab(t, guestSpec(t))
	ctx := context.Background()
	vm := lb.vm("ir-app01")
	start := time.Now()
	lb.must(vm.PowerOn(ctx))
	if m := lb.moVM(vm); m.Guest.GuestState != "notRunning" || m.Summary.QuickStats.GuestHeartbeatStatus != types.ManagedEntityStatusGray {
		t.Fatalf("booting: %s %s", m.Guest.GuestState, m.Summary.QuickStats.GuestHeartbeatStatus)
	}
	eventually(t, 10*time.Second, "boot", func() bool { return lb.moVM(vm).GuestHeartbeatStatus == types.ManagedEntityStatusGreen })
	within(t, "boot to heartbeat green", time.Since(start), time.Second)
	m := lb.moVM(vm)
	if m.Guest.GuestState != "running" || m.Guest.ToolsRunningStatus != "guestToolsRunning" || m.Summary.QuickStats.GuestHeartbeatStatus != types.ManagedEntityStatusGreen {
		t.Fatalf("running: %+v", m.Guest)
	}
	start = time.Now()
	if err := vm.ShutdownGuest(ctx); err != nil {
		t.Fatal(err)
	}
	if m := lb.moVM(vm); m.Runtime.PowerState != "poweredOn" || m.Guest.GuestState != "shuttingDown" {
		t.Fatalf("shutting down: %s %s", m.Runtime.PowerState, m.Guest.GuestState)
	}
	eventually(t, 10*time.Second, "shutdown", func() bool { return lb.moVM(vm).Runtime.PowerState == "poweredOff" })
	within(t, "ShutdownGuest to poweredOff", time.Since(start), 800*time.Millisecond)
	if m := lb.moVM(vm); m.Guest.GuestState != "notRunning" || m.GuestHeartbeatStatus != types.ManagedEntityStatusGray {
		t.Fatalf("after shutdown: %+v", m.Guest)
	}

	// no Tools: ShutdownGuest fails with ToolsUnavailable, the heartbeat never turns green
	nt := lb.vm("notools")
	err := nt.ShutdownGuest(ctx)
	if err == nil || !soap.IsSoapFault(err) {
		t.Fatalf("no tools: %v", err)
	}
	if _, ok := soap.ToSoapFault(err).VimFault().(types.ToolsUnavailable); !ok {
		t.Fatalf("no tools fault: %#v", soap.ToSoapFault(err).VimFault())
	}
	if m := lb.moVM(nt); m.Guest.ToolsStatus != types.VirtualMachineToolsStatusToolsNotInstalled || m.GuestHeartbeatStatus != types.ManagedEntityStatusGray {
		t.Fatalf("no tools guest: %+v", m.Guest)
	}
	// a guest that ignores the shutdown keeps running
	hung := lb.vm("hung")
	if err := hung.ShutdownGuest(ctx); err != nil {
		t.Fatal(err)
	}
	time.Sleep(1200 * time.Millisecond)
	if m := lb.moVM(hung); m.Runtime.PowerState != "poweredOn" {
		t.Fatal("a hung guest stopped")
	}
	// hard power-off: instant, no guest involved
	start = time.Now()
	lb.must(hung.PowerOff(ctx))
	if d := time.Since(start); d > 2*time.Second {
		t.Fatalf("hard power-off took %v", d)
	}
}

func TestSuspendStateAtDatastoreRates(t *testing.T) {
	s := guestSpec(t)
	s.SuspendScale = 1
	s.VMs[0].MemoryMiB = 16
	s.VMs[0].Power = "poweredOn"
	s.Datastores[1].WriteMBps, s.Datastores[1].ReadMBps = mbps(20), mbps(40)
	lb := startLab(t, s)
	ctx := context.Background()
	vm := lb.vm("ir-app01")
	start := time.Now()
	lb.must(vm.Suspend(ctx))
	within(t, "suspend of 16 MiB at 20 MB/s", time.Since(start), time.Duration(float64(16<<20)/20e6*float64(time.Second)))
	vmx, _ := readVMX(lb.local("IR-NFS", "ir-app01/ir-app01.vmx"))
	st, err := os.Stat(lb.local("IR-NFS", "ir-app01/"+vmx.Get("checkpoint.vmState")))
	if err != nil || st.Size() != 16<<20 {
		t.Fatalf("vmss: %v", err)
	}
	b, _ := os.ReadFile(lb.local("IR-NFS", "ir-app01/"+vmx.Get("checkpoint.vmState")))
	if strings.Count(string(b[:4096]), "\x00") > 64 {
		t.Fatal("vmss is not data")
	}
	// while suspending is the only task, another one on the VM waits its turn: TaskInProgress
	start = time.Now()
	tk, err := vm.PowerOn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(50 * time.Millisecond)
	_, err2 := lb.wait(vm.PowerOff(ctx))
	var te task.Error
	if !errors.As(err2, &te) {
		t.Fatalf("second task while resuming: %v", err2)
	}
	if _, ok := te.Fault().(*types.TaskInProgress); !ok || te.LocalizedMessage != "Another task is already in progress." {
		t.Fatalf("second task fault %T %q", te.Fault(), te.LocalizedMessage)
	}
	if _, err := lb.wait(tk, nil); err != nil {
		t.Fatal(err)
	}
	within(t, "resume reading 16 MiB at 40 MB/s", time.Since(start), time.Duration(float64(16<<20)/40e6*float64(time.Second)))
	eventually(t, 10*time.Second, "resume heartbeat", func() bool { return lb.moVM(vm).GuestHeartbeatStatus == types.ManagedEntityStatusGreen })
	within(t, "resume to heartbeat green", time.Since(start), 400*time.Millisecond+time.Duration(float64(16<<20)/40e6*float64(time.Second)))
}

func TestFolderLinkRateStreamsAndConsolidation(t *testing.T) {
	s := baseSpec(t.TempDir(), "esx")
	s.Datastores[0].ReadMBps, s.Datastores[0].WriteMBps = mbps(100), mbps(100)
	s.Hosts[0].LinkGbps = f64(0.4) // 50 MB/s
	s.Hosts[0].MaxFolderStreams = 1
	lb := startLab(t, s)
	data := pattern(8<<20, 7)
	start := time.Now()
	if res, _ := lb.folder("PUT", "datastore1", "x/a.bin", data, "cookie", nil); res.StatusCode != 201 {
		t.Fatalf("PUT %d", res.StatusCode)
	}
	one := time.Duration(float64(8<<20) / 50e6 * float64(time.Second))
	within(t, "PUT 8 MiB over a 0.4 Gb/s link", time.Since(start), one)

	// two GETs at once: one stream at a time (the second waits for the first), sharing the link
	var wg sync.WaitGroup
	var firstByte [2]time.Duration
	var bodies [2][]byte
	start = time.Now()
	for i := range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if i == 1 {
				time.Sleep(20 * time.Millisecond)
			}
			res, body := lb.folder("GET", "datastore1", "x/a.bin", nil, "cookie", nil)
			if res.StatusCode == http.StatusOK {
				bodies[i] = body
			}
			firstByte[i] = time.Since(start)
		}()
	}
	wg.Wait()
	if string(bodies[0]) != string(data) || string(bodies[1]) != string(data) {
		t.Fatal("GET bytes differ from PUT bytes")
	}
	within(t, "two 8 MiB GETs sharing one link", max(firstByte[0], firstByte[1]), 2*one)

	// the stream cap: while a PUT whose body has not all arrived holds the only stream, the next request
	// gets no answer; once the body ends, it is served. (The stream is seen held in the host's own
	// semaphore, so nothing depends on socket buffers or timing but the 300 ms of no answer.)
	pr, pw := io.Pipe()
	req, _ := http.NewRequest("PUT", strings.TrimSuffix(lb.l.URL, "/sdk")+"/folder/x/held.bin?dcPath=ha-datacenter&dsName=datastore1", pr)
	req.ContentLength = 2
	req.SetBasicAuth(s.Username, s.Password)
	put := make(chan int, 1)
	go func() {
		res, err := lb.http.Do(req)
		if err != nil {
			put <- 0
			return
		}
		res.Body.Close()
		put <- res.StatusCode
	}()
	if _, err := pw.Write([]byte{1}); err != nil {
		t.Fatal(err)
	}
	sem := lb.l.rates.streams[lb.l.folderHost("datastore1")]
	for deadline := time.Now().Add(10 * time.Second); len(sem) == 0; time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the PUT never took the host's only stream")
		}
	}
	answered := make(chan int, 1)
	go func() {
		res, _ := lb.folder("HEAD", "datastore1", "x/a.bin", nil, "basic", nil)
		answered <- res.StatusCode
	}()
	select {
	case code := <-answered:
		t.Fatalf("a second stream was served (%d) while the only one was held", code)
	case <-time.After(300 * time.Millisecond):
	}
	if _, err := pw.Write([]byte{2}); err != nil {
		t.Fatal(err)
	}
	pw.Close()
	if code := <-put; code != 201 {
		t.Fatalf("held PUT: %d", code)
	}
	if code := <-answered; code != 200 {
		t.Fatalf("queued request: %d", code)
	}

	// consolidation: the delta's bytes are read and written at the datastore's rates
	s2 := baseSpec(t.TempDir(), "esx")
	s2.Datastores[1].ReadMBps, s2.Datastores[1].WriteMBps = mbps(20), mbps(20)
	lb2 := startLab(t, s2)
	ctx := context.Background()
	vm := lb2.vm("ir-app01")
	lb2.must(vm.CreateSnapshot(ctx, "s", "", false, false))
	blob := pattern(4<<20, 9)
	if code := lb2.guestWrite("ir-app01", 0, 0, blob); code != 200 {
		t.Fatalf("guest write %d", code)
	}
	start = time.Now()
	lb2.must(vm.RemoveAllSnapshot(ctx, nil))
	within(t, "consolidating a 4 MiB delta at 20 MB/s", time.Since(start), time.Duration(float64(4<<20)/20e6*float64(time.Second)))
	if got := lb2.logical("ir-app01", 0)[:4<<20]; string(got) != string(blob) {
		t.Fatal("consolidated bytes differ")
	}
}

func TestDeviceNamesAsVSphere(t *testing.T) {
	lb := startLab(t, baseSpec(t.TempDir(), "esx"))
	var m mo.VirtualMachine
	lb.props(lb.vm("ir-app01").Reference(), &m, "config.hardware.device")
	var got []string
	for _, d := range m.Config.Hardware.Device {
		v := d.GetVirtualDevice()
		switch x := d.(type) {
		case *types.ParaVirtualSCSIController, *types.VirtualDisk:
			got = append(got, v.DeviceInfo.GetDescription().Label+"#"+itoa(v.Key)+"@"+itoa(v.ControllerKey))
		case *types.VirtualVmxnet3:
			got = append(got, v.DeviceInfo.GetDescription().Label+"#"+itoa(v.Key)+" "+x.MacAddress[:9])
		}
	}
	want := "SCSI controller 0#1000@100,Hard disk 1#2000@1000,Hard disk 2#2001@1000,Network adapter 1#4000 00:0c:29:"
	if strings.Join(got, ",") != want {
		t.Fatalf("devices\n got %s\nwant %s", strings.Join(got, ","), want)
	}
}

func itoa(n int32) string { return strconv.Itoa(int(n)) }

func TestRelocationCopiesAtDatastoreRates(t *testing.T) {
	s := baseSpec(t.TempDir(), "vcenter")
	s.Datastores[1].ReadMBps = mbps(20) // IR-NFS: the home folder and disk 0 (4 MiB) live there
	s.VMs[0].Power = "poweredOff"
	lb := startLab(t, s)
	ctx := context.Background()
	vm := lb.vm("ir-app01")
	var bytes int64
	entries, _ := os.ReadDir(lb.local("IR-NFS", "ir-app01"))
	for _, e := range entries {
		if fi, err := e.Info(); err == nil {
			bytes += fi.Size()
		}
	}
	ds1 := lb.l.dsRefs["datastore1"]
	start := time.Now()
	lb.must(vm.Relocate(ctx, types.VirtualMachineRelocateSpec{Datastore: &ds1}, types.VirtualMachineMovePriorityDefaultPriority))
	within(t, "moving the home folder off IR-NFS at 20 MB/s", time.Since(start), time.Duration(float64(bytes)/20e6*float64(time.Second)))
	x, _ := readVMX(lb.local("datastore1", "ir-app01/ir-app01.vmx"))
	if x.Get("uuid.location") != lb.l.locationUUID("esx01.lab", dsPath{"datastore1", "ir-app01/ir-app01.vmx"}) {
		t.Fatal("relocation did not record the new location")
	}
	lb.must(vm.PowerOn(ctx)) // no question after a move vCenter made
}

func TestTemplateIsMarkedAndMustBeOff(t *testing.T) {
	s := baseSpec(t.TempDir(), "esx")
	s.VMs = append(s.VMs, VMSpec{Name: "tmpl01", Host: "esx01.lab", Datastore: "datastore1", MemoryMiB: 16, Power: "poweredOff",
		Template: true, Disks: []DiskSpec{{SizeMiB: 1}}, Seed: 4})
	lb := startLab(t, s)
	var tmpl, vm mo.VirtualMachine
	lb.props(lb.vm("tmpl01").Reference(), &tmpl, "config.template", "summary.config.template", "runtime.powerState")
	lb.props(lb.vm("ir-app01").Reference(), &vm, "config.template")
	if !tmpl.Config.Template || !tmpl.Summary.Config.Template || tmpl.Runtime.PowerState != types.VirtualMachinePowerStatePoweredOff {
		t.Fatalf("tmpl01: template %v/%v, power %s", tmpl.Config.Template, tmpl.Summary.Config.Template, tmpl.Runtime.PowerState)
	}
	if vm.Config.Template {
		t.Fatal("ir-app01 is marked as a template")
	}
	bad := baseSpec(t.TempDir(), "esx")
	bad.VMs[0].Template = true
	if err := bad.validate(); err == nil || !strings.Contains(err.Error(), "is a template and must be poweredOff") {
		t.Fatalf("a powered-on template: %v", err)
	}
}

func TestThickDiskWithHolesIsThickAndReadWhole(t *testing.T) {
	s := baseSpec(t.TempDir(), "esx")
	thick := false
	s.VMs[0].Disks = []DiskSpec{{SizeMiB: 4, Fill: "sparse", Thin: &thick}, {SizeMiB: 4, Fill: "sparse"}}
	s.VMs[0].Power = "poweredOff"
	lb := startLab(t, s)
	var m mo.VirtualMachine
	lb.props(lb.vm("ir-app01").Reference(), &m, "config.hardware.device")
	var thin []bool
	for _, d := range m.Config.Hardware.Device {
		if disk, ok := d.(*types.VirtualDisk); ok {
			thin = append(thin, *disk.Backing.(*types.VirtualDiskFlatVer2BackingInfo).ThinProvisioned)
		}
	}
	if len(thin) != 2 || thin[0] || !thin[1] {
		t.Fatalf("provisioning of disks 0 (thin: false) and 1 (sparse): %v", thin)
	}
	// The thick disk costs the lab no space, and reads as 4 MiB of zeros.
	if used := du(t, lb.local("IR-NFS", "ir-app01/ir-app01-flat.vmdk")); used > 64<<10 {
		t.Fatalf("the thick disk's backing uses %d bytes", used)
	}
	res, body := lb.folder("GET", "IR-NFS", "ir-app01/ir-app01-flat.vmdk", nil, "cookie", nil)
	if res == nil {
		t.Fatal("GET of the thick disk: no response")
	}
	if res.StatusCode != 200 || len(body) != 4<<20 || strings.Trim(string(body), "\x00") != "" {
		t.Fatalf("GET of the thick disk: %d, %d bytes", res.StatusCode, len(body))
	}
}
