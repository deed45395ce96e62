package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vmware/govmomi/object"
	"github.com/vmware/govmomi/vim25/methods"
	"github.com/vmware/govmomi/vim25/mo"
	"github.com/vmware/govmomi/vim25/soap"
	"github.com/vmware/govmomi/vim25/types"
)

// A snapshot taken with change tracking on carries a changeId per disk; QueryChangedDiskAreas since it
// returns what the guest wrote after it (also once that snapshot is removed), and a reset of change
// tracking makes it a FileFault.
// cbtProbe reads the changeIds of ir-app01's first disk at a snapshot and asks QueryChangedDiskAreas.
type cbtProbe struct {
	lb   *lab
	vm   *object.VirtualMachine
	disk *types.VirtualDisk
}

func newCBTProbe(t *testing.T) *cbtProbe {
	spec := baseSpec(t.TempDir(), "esx")
	spec.VMs[0].Disks = []DiskSpec{{SizeMiB: 8, Datastore: "datastore1", Fill: "scattered"}}
	lb := startLab(t, spec)
	vm := lb.vm("ir-app01")
	disk := object.VirtualDeviceList(lb.moVM(vm).Config.Hardware.Device).SelectByType((*types.VirtualDisk)(nil))[0].(*types.VirtualDisk)
	on := true
	lb.must(vm.Reconfigure(context.Background(), types.VirtualMachineConfigSpec{ChangeTrackingEnabled: &on}))
	return &cbtProbe{lb: lb, vm: vm, disk: disk}
}

func (p *cbtProbe) changeID(snap types.ManagedObjectReference) string {
	var s mo.VirtualMachineSnapshot
	p.lb.props(snap, &s, "config")
	for _, d := range s.Config.Hardware.Device {
		if vd, ok := d.(*types.VirtualDisk); ok && vd.Key == p.disk.Key {
			return vd.Backing.(*types.VirtualDiskFlatVer2BackingInfo).ChangeId
		}
	}
	return ""
}

func (p *cbtProbe) query(snap types.ManagedObjectReference, since string) (*types.DiskChangeInfo, error) {
	res, err := methods.QueryChangedDiskAreas(context.Background(), p.lb.c.Client, &types.QueryChangedDiskAreas{
		This: p.vm.Reference(), Snapshot: &snap, DeviceKey: p.disk.Key, StartOffset: 0, ChangeId: since,
	})
	if err != nil {
		return nil, err
	}
	return &res.Returnval, nil
}

// A changeId of another run of the host (the lab's tracking lives in memory, as across a restart) names
// an epoch this run never had: FileFault, never the changes of an epoch that happens to share its name.
func TestChangeIDOfAnotherRunIsRefused(t *testing.T) {
	ctx := context.Background()
	a, b := newCBTProbe(t), newCBTProbe(t)
	idA := a.changeID(a.lb.must(a.vm.CreateSnapshot(ctx, "a", "", false, false)).(types.ManagedObjectReference))
	sB := b.lb.must(b.vm.CreateSnapshot(ctx, "b", "", false, false)).(types.ManagedObjectReference)
	idB := b.changeID(sB)
	if strings.Split(idA, "/")[0] == strings.Split(idB, "/")[0] {
		t.Fatalf("two runs of the same VM began the same tracking epoch: %q and %q", idA, idB)
	}
	_, err := b.query(sB, idA)
	if err == nil || !soap.IsSoapFault(err) {
		t.Fatalf("changed since a changeId of another run: %v", err)
	}
	if _, ok := soap.ToSoapFault(err).VimFault().(types.FileFault); !ok {
		t.Fatalf("changed since a changeId of another run: %T %v, want FileFault", soap.ToSoapFault(err).VimFault(), err)
	}
}

func TestChangeIDsAndChangedAreasSince(t *testing.T) {
	p := newCBTProbe(t)
	lb, vm := p.lb, p.vm
	ctx := context.Background()
	off, on := false, true
	changeID, query := p.changeID, p.query

	s1 := lb.must(vm.CreateSnapshot(ctx, "test", "", false, false)).(types.ManagedObjectReference)
	id1 := changeID(s1)
	if !strings.HasSuffix(id1, "/1") {
		t.Fatalf("changeId at the first tracked snapshot: %q", id1)
	}
	// Written after s1: 64 KiB at 1 MiB + 4 KiB (two 64 KiB blocks), 4 KiB at 5 MiB.
	for _, w := range []struct {
		off  int64
		data []byte
	}{{1<<20 + 4096, pattern(64<<10, 3)}, {5 << 20, pattern(4096, 4)}} {
		if code := lb.guestWrite("ir-app01", 0, w.off, w.data); code != 200 {
			t.Fatalf("guest write: %d", code)
		}
	}
	lb.must(vm.RemoveAllSnapshot(ctx, nil)) // the test snapshot goes; tracking stays
	s2 := lb.must(vm.CreateSnapshot(ctx, "real", "", false, false)).(types.ManagedObjectReference)
	id2 := changeID(s2)
	if id2 == id1 || !strings.HasSuffix(id2, "/2") || strings.Split(id2, "/")[0] != strings.Split(id1, "/")[0] {
		t.Fatalf("changeId at the second snapshot: %q (first %q)", id2, id1)
	}
	if code := lb.guestWrite("ir-app01", 0, 7<<20, pattern(4096, 5)); code != 200 { // after s2: not part of it
		t.Fatalf("guest write: %d", code)
	}
	info, err := query(s2, id1)
	if err != nil {
		t.Fatal(err)
	}
	want := []types.DiskChangeExtent{{Start: 1 << 20, Length: 128 << 10}, {Start: 5 << 20, Length: 64 << 10}}
	if fmt.Sprint(info.ChangedArea) != fmt.Sprint(want) || info.Length != 8<<20 {
		t.Fatalf("changed since %s: %+v length %d, want %+v", id1, info.ChangedArea, info.Length, want)
	}
	if info, err := query(s2, id2); err != nil || len(info.ChangedArea) != 0 {
		t.Fatalf("changed since the snapshot's own changeId: %+v %v", info, err)
	}
	if _, err := query(s2, "garbage"); err == nil || !strings.Contains(err.Error(), "InvalidArgument") {
		t.Fatalf("malformed changeId: %v", err)
	}

	// A reset (tracking off, then on): the old changeIds are of another epoch → FileFault.
	lb.must(vm.RemoveAllSnapshot(ctx, nil))
	lb.must(vm.Reconfigure(ctx, types.VirtualMachineConfigSpec{ChangeTrackingEnabled: &off}))
	lb.must(vm.Reconfigure(ctx, types.VirtualMachineConfigSpec{ChangeTrackingEnabled: &on}))
	s3 := lb.must(vm.CreateSnapshot(ctx, "after-reset", "", false, false)).(types.ManagedObjectReference)
	id3 := changeID(s3)
	if strings.Split(id3, "/")[0] == strings.Split(id1, "/")[0] || !strings.HasSuffix(id3, "/1") {
		t.Fatalf("changeId after a reset: %q (before %q)", id3, id1)
	}
	if _, err := query(s3, id1); err == nil || !strings.Contains(err.Error(), "reset") {
		t.Fatalf("changed since a changeId from before the reset: %v", err)
	}
}

// CopyVirtualDisk of a hosted sparse child (parentCID, parentFileNameHint) gives the chain flattened:
// the parent's data under the child's grains, zero grains included; a parent whose CID is not the one
// the child names is refused.
func TestCopyVirtualDiskFlattensSparseChild(t *testing.T) {
	spec := baseSpec(t.TempDir(), "esx")
	lb := startLab(t, spec)
	ctx := context.Background()
	const capBytes = 1 << 20
	dir := lb.local("datastore1", "kept")
	if err := os.MkdirAll(filepath.Join(dir, "stage"), 0o755); err != nil {
		t.Fatal(err)
	}
	parent := pattern(capBytes, 9)
	if err := os.WriteFile(filepath.Join(dir, "d-flat.vmdk"), parent, 0o644); err != nil {
		t.Fatal(err)
	}
	pd := flatDescriptor("d-flat.vmdk", capBytes, 1, 0)
	if err := os.WriteFile(filepath.Join(dir, "d.vmdk"), []byte(pd.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	grain := pattern(64<<10, 2)
	writeSparseExtentFile(t, filepath.Join(dir, "stage", "c-s001.vmdk"), capBytes, map[int64][]byte{64 << 10: grain, 512 << 10: make([]byte, 64<<10)})
	child := func(cid uint32) {
		desc := fmt.Sprintf("# Disk DescriptorFile\nversion=1\nCID=fffffffe\nparentCID=%08x\nparentFileNameHint=\"../d.vmdk\"\ncreateType=\"twoGbMaxExtentSparse\"\n\nRW %d SPARSE \"c-s001.vmdk\"\n", cid, capBytes/512)
		if err := os.WriteFile(filepath.Join(dir, "stage", "c.vmdk"), []byte(desc), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	vdm := object.NewVirtualDiskManager(lb.c.Client)
	child(pd.CID ^ 1)
	task, err := vdm.CopyVirtualDisk(ctx, "[datastore1] kept/stage/c.vmdk", nil, "[datastore1] kept/stage/bad.vmdk", nil, nil, false)
	if _, err := lb.wait(task, err); err == nil || !strings.Contains(err.Error(), "FileFault") {
		t.Fatalf("a child of another parent: %v", err)
	}
	child(pd.CID)
	for _, diskType := range []string{"thin", "preallocated"} {
		spec := &types.FileBackedVirtualDiskSpec{VirtualDiskSpec: types.VirtualDiskSpec{DiskType: diskType, AdapterType: "lsiLogic"}}
		task, err := vdm.CopyVirtualDisk(ctx, "[datastore1] kept/stage/c.vmdk", nil, "[datastore1] kept/stage/"+diskType+".vmdk", nil, spec, false)
		lb.must(task, err)
		got, _ := os.ReadFile(filepath.Join(dir, "stage", diskType+"-flat.vmdk"))
		want := append([]byte(nil), parent...)
		copy(want[64<<10:], grain)
		copy(want[512<<10:], make([]byte, 64<<10))
		if !bytes.Equal(got, want) {
			t.Fatalf("%s: the flattened child differs from parent + child grains", diskType)
		}
	}

	// A grandchild (its parent c.vmdk a child itself): the whole chain flattens, base first.
	grain2 := pattern(64<<10, 4)
	writeSparseExtentFile(t, filepath.Join(dir, "stage", "g-s001.vmdk"), capBytes, map[int64][]byte{128 << 10: grain2})
	g := fmt.Sprintf("# Disk DescriptorFile\nversion=1\nCID=0000abcd\nparentCID=fffffffe\nparentFileNameHint=\"c.vmdk\"\ncreateType=\"twoGbMaxExtentSparse\"\n\nRW %d SPARSE \"g-s001.vmdk\"\n", capBytes/512)
	if err := os.WriteFile(filepath.Join(dir, "stage", "g.vmdk"), []byte(g), 0o644); err != nil {
		t.Fatal(err)
	}
	task, err = vdm.CopyVirtualDisk(ctx, "[datastore1] kept/stage/g.vmdk", nil, "[datastore1] kept/stage/flat-g.vmdk", nil, nil, false)
	lb.must(task, err)
	got, _ := os.ReadFile(filepath.Join(dir, "stage", "flat-g-flat.vmdk"))
	want := append([]byte(nil), parent...)
	copy(want[64<<10:], grain)
	copy(want[128<<10:], grain2)
	copy(want[512<<10:], make([]byte, 64<<10))
	if !bytes.Equal(got, want) {
		t.Fatal("the flattened grandchild differs from parent + child + grandchild grains")
	}
}
