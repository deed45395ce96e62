package main

import (
	"context"
	"os"
	"strings"
	"testing"

	"github.com/vmware/govmomi/find"
	"github.com/vmware/govmomi/object"
	"github.com/vmware/govmomi/vim25/mo"
)

// An ISO image in a VM's CD/DVD drive ties the VM to the ISO's datastore: it is among the VM's
// datastores, and the datastore cannot be unmounted while the VM is registered; a drive rewritten to a
// client device (as quickmig's targets get) releases it.
func TestISOHoldsItsDatastore(t *testing.T) {
	spec := baseSpec(t.TempDir(), "esx")
	spec.VMs[0].Datastore = "datastore1"
	spec.VMs[0].Disks = []DiskSpec{{SizeMiB: 2}}
	spec.VMs[0].Power = "poweredOff"
	spec.VMs[0].ISO = "[IR-NFS] iso/recovery.iso"
	lb := startLab(t, spec)
	ctx := context.Background()

	if fi, err := os.Stat(lb.local("IR-NFS", "iso/recovery.iso")); err != nil || fi.Size() != 1<<20 {
		t.Fatalf("iso file: %v %v", fi, err)
	}
	vm := lb.vm("ir-app01")
	var m mo.VirtualMachine
	lb.props(vm.Reference(), &m, "datastore")
	names := map[string]bool{}
	for _, ref := range m.Datastore {
		names[lb.l.dsName(ref)] = true
	}
	if !names["datastore1"] || !names["IR-NFS"] {
		t.Fatalf("vm datastores %v, want datastore1 and IR-NFS", names)
	}

	f := find.NewFinder(lb.c.Client, true)
	dc, _ := f.DefaultDatacenter(ctx)
	f.SetDatacenter(dc)
	host, _ := f.DefaultHostSystem(ctx)
	dss, _ := host.ConfigManager().DatastoreSystem(ctx)
	ds := object.NewDatastore(lb.c.Client, lb.l.dsRefs["IR-NFS"])
	if err := dss.Remove(ctx, ds); err == nil || !strings.Contains(err.Error(), "in use") {
		t.Fatalf("unmount of the ISO's datastore: %v, want in use", err)
	}

	// The drive as a disconnected client device: re-registered, the VM no longer uses the share.
	vmx := lb.local("datastore1", "ir-app01/ir-app01.vmx")
	b, err := os.ReadFile(vmx)
	if err != nil {
		t.Fatal(err)
	}
	text := strings.Replace(string(b), `ide1:0.deviceType = "cdrom-image"`, `ide1:0.deviceType = "atapi-cdrom"`, 1)
	text = strings.Replace(text, `ide1:0.fileName = "/vmfs/volumes/IR-NFS/iso/recovery.iso"`, `ide1:0.fileName = ""`, 1)
	if err := os.WriteFile(vmx, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := vm.Unregister(ctx); err != nil {
		t.Fatal(err)
	}
	folders, _ := dc.Folders(ctx)
	pool, _ := host.ResourcePool(ctx)
	lb.must(folders.VmFolder.RegisterVM(ctx, "[datastore1] ir-app01/ir-app01.vmx", "ir-app01", false, pool, host))
	if err := dss.Remove(ctx, ds); err != nil {
		t.Fatalf("unmount after the ISO was released: %v", err)
	}
}
