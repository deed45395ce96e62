package main

import (
	"context"
	"strings"
	"testing"

	"github.com/vmware/govmomi/object"
	"github.com/vmware/govmomi/vim25/mo"
)

// TestUnregisteredVMIsGoneForEverySession: a session that ran a lab task on a VM (and so holds its
// wrapper) no longer reads or renames it once another session unregistered it: ManagedObjectNotFound,
// as a real host answers for a managed object that no longer exists.
func TestUnregisteredVMIsGoneForEverySession(t *testing.T) {
	spec := baseSpec(t.TempDir(), "esx")
	spec.VMs[0].Datastore = "datastore1"
	spec.VMs[0].Disks = []DiskSpec{{SizeMiB: 2}}
	lb := startLab(t, spec)
	ctx := context.Background()

	// Session A powers the VM off: a lab task, which places the VM's wrapper in A's registry.
	vmA := lb.vm("ir-app01")
	lb.must(vmA.PowerOff(ctx))

	// Session B unregisters it.
	b := lb.login("root", "s3cret!")
	defer func() { _ = b.Logout(ctx) }()
	if err := object.NewVirtualMachine(b.Client, vmA.Reference()).Unregister(ctx); err != nil {
		t.Fatal(err)
	}

	var m mo.VirtualMachine
	err := lb.c.RetrieveOne(ctx, vmA.Reference(), []string{"name"}, &m)
	if err == nil || !strings.Contains(err.Error(), "ManagedObjectNotFound") && !strings.Contains(err.Error(), "has already been deleted") {
		t.Fatalf("session A reads the unregistered VM: %v (name %q), want ManagedObjectNotFound", err, m.Name)
	}
	_, err = lb.wait(vmA.Rename(ctx, "ir-app01_renamed"))
	if err == nil {
		t.Fatal("session A renamed the unregistered VM, want ManagedObjectNotFound")
	}
	// The simulator still serves.
	var root mo.Folder
	if err := lb.c.RetrieveOne(ctx, lb.c.ServiceContent.RootFolder, []string{"name"}, &root); err != nil {
		t.Fatalf("session A after the rename attempt: %v", err)
	}
}
