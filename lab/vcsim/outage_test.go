package main

import (
	"context"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/vmware/govmomi/object"
	"github.com/vmware/govmomi/vim25/types"
)

// An outage resets every vSphere connection and request until it ends (or is ended), keeps the
// sessions and the VMs as they were, and leaves the control API reachable.
func TestOutageResetsConnectionsAndKeepsState(t *testing.T) {
	lb := startLab(t, baseSpec(t.TempDir(), "esx"))
	ctx := context.Background()
	vm := lb.vm("ir-app01")
	lb.must(vm.Suspend(ctx))

	if code, b := lb.control("POST", "/outage", map[string]any{"seconds": 1.5}); code != 200 || !strings.Contains(string(b), `"down":true`) {
		t.Fatalf("outage: %d %s", code, b)
	}
	start := time.Now()
	_, err := vm.PowerState(ctx)
	if err == nil { // the connection is reset ("connection reset by peer", "EOF", ...)
		t.Fatalf("a call during the outage: %v", err)
	}
	res, ferr := lb.http.Get(strings.TrimSuffix(lb.l.URL, "/sdk") + "/folder/ir-app01/ir-app01.vmx?dsName=IR-NFS")
	if ferr == nil {
		res.Body.Close()
		t.Fatalf("a /folder GET during the outage answered %d", res.StatusCode)
	}
	if code, b := lb.control("GET", "/outage", nil); code != 200 || !strings.Contains(string(b), `"down":true`) {
		t.Fatalf("control API during the outage: %d %s", code, b)
	}
	eventually(t, 10*time.Second, "the endpoint back", func() bool {
		_, err := vm.PowerState(ctx)
		return err == nil
	})
	if time.Since(start) < time.Second {
		t.Fatalf("back after %s, the outage was 1.5 s", time.Since(start))
	}
	// the same session, the VM as it was
	if s, err := vm.PowerState(ctx); err != nil || s != types.VirtualMachinePowerStateSuspended {
		t.Fatalf("after the outage: %s %v", s, err)
	}
	// ended early by DELETE
	lb.control("POST", "/outage", map[string]any{"seconds": 60})
	if _, err := vm.PowerState(ctx); err == nil {
		t.Fatal("no outage")
	}
	if code, _ := lb.control("DELETE", "/outage", nil); code != 200 {
		t.Fatal("end outage")
	}
	lb.must(vm.PowerOn(ctx))
	if code, _ := lb.control("POST", "/outage", map[string]any{"seconds": 0}); code != 400 {
		t.Fatalf("seconds 0 accepted: %d", code)
	}
	// armed: the first GET of the .vmx starts it (and is reset); calls before it are served
	if code, b := lb.control("POST", "/outage", map[string]any{"seconds": 60, "when": map[string]string{"method": "GET", "path": ".vmx"}}); code != 200 || !strings.Contains(string(b), `"down":false`) {
		t.Fatalf("arm: %d %s", code, b)
	}
	if _, err := vm.PowerState(ctx); err != nil {
		t.Fatalf("armed, not started: %v", err)
	}
	if res, _ := lb.folder("GET", "IR-NFS", "ir-app01/ir-app01.vmx", nil, "basic", nil); res != nil {
		t.Fatalf("the trigger request answered %d", res.StatusCode)
	}
	if _, err := vm.PowerState(ctx); err == nil {
		t.Fatal("the armed outage did not start")
	}
	lb.control("DELETE", "/outage", nil)
}

// ReconfigVM_Task adding a disk to a running VM with a snapshot: files on the datastore, the .vmx
// entry, device key and label, layoutEx; the snapshot does not hold the new disk, and removing it
// keeps the disk.
func TestReconfigAddsDisk(t *testing.T) {
	lb := startLab(t, baseSpec(t.TempDir(), "esx"))
	ctx := context.Background()
	vm := lb.vm("ir-app01")
	lb.must(vm.CreateSnapshot(ctx, "before", "", false, false))
	unit := int32(2)
	thin := true
	disk := &types.VirtualDisk{
		VirtualDevice: types.VirtualDevice{Key: -1, ControllerKey: 1000, UnitNumber: &unit,
			Backing: &types.VirtualDiskFlatVer2BackingInfo{DiskMode: "persistent", ThinProvisioned: &thin,
				VirtualDeviceFileBackingInfo: types.VirtualDeviceFileBackingInfo{FileName: "[datastore1]"}}},
		CapacityInKB: 3 * 1024,
	}
	spec := types.VirtualMachineConfigSpec{DeviceChange: []types.BaseVirtualDeviceConfigSpec{&types.VirtualDeviceConfigSpec{
		Operation: types.VirtualDeviceConfigSpecOperationAdd, FileOperation: types.VirtualDeviceConfigSpecFileOperationCreate, Device: disk}}}
	lb.must(vm.Reconfigure(ctx, spec))

	st, err := os.Stat(lb.local("datastore1", "ir-app01/ir-app01_2-flat.vmdk"))
	if err != nil || st.Size() != 3<<20 {
		t.Fatalf("extent: %v %v", st, err)
	}
	desc, _ := os.ReadFile(lb.local("datastore1", "ir-app01/ir-app01_2.vmdk"))
	if !strings.Contains(string(desc), `ddb.thinProvisioned = "1"`) {
		t.Fatalf("descriptor:\n%s", desc)
	}
	vmx, _ := os.ReadFile(lb.local("IR-NFS", "ir-app01/ir-app01.vmx"))
	if !strings.Contains(string(vmx), `scsi0:2.fileName = "/vmfs/volumes/datastore1/ir-app01/ir-app01_2.vmdk"`) {
		t.Fatalf("vmx:\n%s", vmx)
	}
	m := lb.moVM(vm)
	disks := object.VirtualDeviceList(m.Config.Hardware.Device).SelectByType((*types.VirtualDisk)(nil))
	if len(disks) != 3 {
		t.Fatalf("disks %d", len(disks))
	}
	added := disks[2].(*types.VirtualDisk)
	if added.Key != 2002 || added.DeviceInfo.GetDescription().Label != "Hard disk 3" || added.CapacityInBytes != 3<<20 ||
		added.Backing.(*types.VirtualDiskFlatVer2BackingInfo).FileName != "[datastore1] ir-app01/ir-app01_2.vmdk" {
		t.Fatalf("added disk %+v %+v", added.VirtualDevice, added.Backing)
	}
	names := map[string]bool{}
	for _, f := range m.LayoutEx.File {
		names[f.Name] = true
	}
	if !names["[datastore1] ir-app01/ir-app01_2.vmdk"] || !names["[datastore1] ir-app01/ir-app01_2-flat.vmdk"] {
		t.Fatalf("layoutEx: %v", names)
	}
	if len(m.LayoutEx.Disk) != 3 || len(m.LayoutEx.Snapshot) != 1 || len(m.LayoutEx.Snapshot[0].Disk) != 2 {
		t.Fatalf("layoutEx disks %d, snapshot disks %d", len(m.LayoutEx.Disk), len(m.LayoutEx.Snapshot[0].Disk))
	}
	// the unit is taken now
	lb.must(vm.CreateSnapshot(ctx, "after", "", false, false))
	unit2 := int32(2)
	disk.UnitNumber = &unit2
	disk.Backing.(*types.VirtualDiskFlatVer2BackingInfo).FileName = "[datastore1]"
	if _, err := lb.wait(vm.Reconfigure(ctx, spec)); err == nil {
		t.Fatal("a second disk on unit 2 was accepted")
	}
	// the first snapshot goes, the disk stays with its one file; the second snapshot holds it
	consolidate := false
	lb.must(vm.RemoveSnapshot(ctx, "before", false, &consolidate))
	m = lb.moVM(vm)
	if len(m.LayoutEx.Disk) != 3 || len(m.LayoutEx.Disk[2].Chain) != 2 || len(m.LayoutEx.Snapshot) != 1 || len(m.LayoutEx.Snapshot[0].Disk) != 3 {
		t.Fatalf("after removing the first snapshot: %+v", m.LayoutEx.Snapshot)
	}
	lb.must(vm.RemoveAllSnapshot(ctx, nil))
	m = lb.moVM(vm)
	if len(m.LayoutEx.Disk[2].Chain) != 1 || m.Runtime.ConsolidationNeeded {
		t.Fatalf("after removing all: %+v", m.LayoutEx.Disk[2])
	}
}
