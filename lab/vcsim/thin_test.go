package main

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vmware/govmomi/object"
	"github.com/vmware/govmomi/vim25/methods"
	"github.com/vmware/govmomi/vim25/types"
)

// writeSparseExtentFile writes a hosted sparse extent ("KDMV") of capBytes holding the given
// 64 KiB grains (logical offset → data), every grain table present, as the product streams it.
func writeSparseExtentFile(t *testing.T, file string, capBytes int64, grains map[int64][]byte) {
	t.Helper()
	const grainSectors, gtes = 128, 512
	capSectors := capBytes / 512
	numGTs := (capSectors + grainSectors*gtes - 1) / (grainSectors * gtes)
	gdSectors := (numGTs*4 + 511) / 512
	gtSectors := int64(gtes * 4 / 512)
	overhead := 1 + gdSectors + numGTs*gtSectors
	overhead = (overhead + grainSectors - 1) / grainSectors * grainSectors
	var offs []int64
	for o := range grains {
		offs = append(offs, o)
	}
	sortInt64(offs)
	h := make([]byte, 512)
	le := binary.LittleEndian
	le.PutUint32(h[0:], sparseMagic)
	le.PutUint32(h[4:], 1)
	le.PutUint32(h[8:], 1)
	le.PutUint64(h[12:], uint64(capSectors))
	le.PutUint64(h[20:], grainSectors)
	le.PutUint32(h[44:], gtes)
	le.PutUint64(h[56:], 1)
	le.PutUint64(h[64:], uint64(overhead))
	copy(h[73:], "\n \r\n")
	gd := make([]byte, gdSectors*512)
	gts := make([]byte, numGTs*gtSectors*512)
	for i := int64(0); i < numGTs; i++ {
		le.PutUint32(gd[i*4:], uint32(1+gdSectors+i*gtSectors))
	}
	for k, o := range offs {
		g := o / (grainSectors * 512)
		le.PutUint32(gts[g*4:], uint32(overhead+int64(k)*grainSectors))
	}
	var buf bytes.Buffer
	buf.Write(h)
	buf.Write(gd)
	buf.Write(gts)
	buf.Write(make([]byte, overhead*512-int64(buf.Len())))
	for _, o := range offs {
		g := make([]byte, grainSectors*512)
		copy(g, grains[o])
		buf.Write(g)
	}
	if err := os.WriteFile(file, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
}

func sortInt64(a []int64) {
	for i := 1; i < len(a); i++ {
		for j := i; j > 0 && a[j] < a[j-1]; j-- {
			a[j], a[j-1] = a[j-1], a[j]
		}
	}
}

func du(t *testing.T, file string) int64 {
	t.Helper()
	fi, err := os.Stat(file)
	if err != nil {
		t.Fatal(err)
	}
	return allocated(fi)
}

func TestChangedAreasAndThinConversion(t *testing.T) {
	spec := baseSpec(t.TempDir(), "esx")
	spec.Datastores[0].CapacityMiB = 4096
	spec.VMs[0].Disks = []DiskSpec{{SizeMiB: 256, Datastore: "datastore1", Fill: "scattered"}}
	lb := startLab(t, spec)
	ctx := context.Background()
	vm := lb.vm("ir-app01")
	flat := lb.local("datastore1", "ir-app01/ir-app01-flat.vmdk")
	source, _ := os.ReadFile(flat)
	alloc := du(t, flat)
	if alloc >= int64(len(source))/5 || alloc < int64(len(source))/20 {
		t.Fatalf("scattered disk allocates %d of %d bytes", alloc, len(source))
	}
	disk := object.VirtualDeviceList(lb.moVM(vm).Config.Hardware.Device).SelectByType((*types.VirtualDisk)(nil))[0].(*types.VirtualDisk)
	if b := disk.Backing.(*types.VirtualDiskFlatVer2BackingInfo); b.ThinProvisioned == nil || !*b.ThinProvisioned {
		t.Fatal("a scattered (thin) disk must report thinProvisioned")
	}
	query := func(snap types.ManagedObjectReference) (*types.DiskChangeInfo, error) {
		res, err := methods.QueryChangedDiskAreas(ctx, lb.c.Client, &types.QueryChangedDiskAreas{
			This: vm.Reference(), Snapshot: &snap, DeviceKey: disk.Key, StartOffset: 0, ChangeId: "*",
		})
		if err != nil {
			return nil, err
		}
		return &res.Returnval, nil
	}

	// Without change tracking at the snapshot, the query fails.
	s0 := lb.must(vm.CreateSnapshot(ctx, "no-cbt", "", false, false)).(types.ManagedObjectReference)
	if _, err := query(s0); err == nil || !strings.Contains(err.Error(), "change tracking") {
		t.Fatalf("query without CBT: %v", err)
	}
	lb.must(vm.RemoveAllSnapshot(ctx, nil))
	on := true
	lb.must(vm.Reconfigure(ctx, types.VirtualMachineConfigSpec{ChangeTrackingEnabled: &on}))
	snap := lb.must(vm.CreateSnapshot(ctx, "cbt", "", false, false)).(types.ManagedObjectReference)
	// A write after the snapshot goes to the delta: not part of the frozen disk's areas.
	lb.guestWrite("ir-app01", 0, 200<<20+12345, pattern(4096, 7))
	info, err := query(snap)
	if err != nil {
		t.Fatal(err)
	}
	if info.Length != int64(len(source)) {
		t.Fatalf("length %d", info.Length)
	}
	var areaBytes int64
	covered := make([]bool, len(source)/cbtGranularity)
	for _, a := range info.ChangedArea {
		if a.Start%cbtGranularity != 0 || a.Length%cbtGranularity != 0 {
			t.Fatalf("area %+v not aligned to 64 KiB", a)
		}
		areaBytes += a.Length
		for o := a.Start; o < a.Start+a.Length; o += cbtGranularity {
			covered[o/cbtGranularity] = true
		}
	}
	// Every non-zero block is inside an area; the areas are about what the file allocates.
	for b := range covered {
		if !covered[b] && !isZero(source[b*cbtGranularity:(b+1)*cbtGranularity]) {
			t.Fatalf("block %d holds data but is outside every area", b)
		}
	}
	if areaBytes < alloc || areaBytes > alloc+int64(len(info.ChangedArea))*2*cbtGranularity {
		t.Fatalf("areas %d bytes for %d allocated", areaBytes, alloc)
	}
	if len(info.ChangedArea) < 10 {
		t.Fatalf("only %d areas: not scattered", len(info.ChangedArea))
	}

	// A two-extent hosted sparse disk holding those areas converts to an equal thin disk.
	stage := lb.local("datastore1", "stage")
	if err := os.MkdirAll(stage, 0o755); err != nil {
		t.Fatal(err)
	}
	half := int64(len(source)) / 2
	ext := []map[int64][]byte{{}, {}}
	for _, a := range info.ChangedArea {
		for o := a.Start; o < a.Start+a.Length; o += cbtGranularity {
			i := 0
			if o >= half {
				i = 1
			}
			ext[i][o-int64(i)*half] = source[o : o+cbtGranularity]
		}
	}
	writeSparseExtentFile(t, filepath.Join(stage, "d-s001.vmdk"), half, ext[0])
	writeSparseExtentFile(t, filepath.Join(stage, "d-s002.vmdk"), half, ext[1])
	desc := fmt.Sprintf("# Disk DescriptorFile\nversion=1\nCID=fffffffe\nparentCID=ffffffff\ncreateType=\"twoGbMaxExtentSparse\"\n\nRW %d SPARSE \"d-s001.vmdk\"\nRW %d SPARSE \"d-s002.vmdk\"\n\nddb.adapterType = \"lsilogic\"\n", half/512, half/512)
	if err := os.WriteFile(filepath.Join(stage, "d.vmdk"), []byte(desc), 0o644); err != nil {
		t.Fatal(err)
	}
	vdm := object.NewVirtualDiskManager(lb.c.Client)
	convert := func(dest, diskType string) string {
		spec := &types.FileBackedVirtualDiskSpec{VirtualDiskSpec: types.VirtualDiskSpec{DiskType: diskType, AdapterType: "lsiLogic"}, CapacityKb: int64(len(source)) / 1024}
		task, err := vdm.CopyVirtualDisk(ctx, "[datastore1] stage/d.vmdk", nil, "[datastore1] "+dest+".vmdk", nil, spec, false)
		lb.must(task, err)
		return lb.local("datastore1", dest+"-flat.vmdk")
	}
	thin := convert("thin", "thin")
	got, _ := os.ReadFile(thin)
	if !bytes.Equal(got, source) {
		t.Fatal("thin conversion: content differs")
	}
	if a := du(t, thin); a > alloc+int64(len(info.ChangedArea))*2*cbtGranularity {
		t.Fatalf("thin target allocates %d bytes, source %d", a, alloc)
	}
	d, _ := readDescriptor(lb.local("datastore1", "thin.vmdk"))
	if d == nil || d.ddb("thinProvisioned") != "1" || d.Extent != "thin-flat.vmdk" || d.Sectors*512 != int64(len(source)) {
		t.Fatalf("thin descriptor %+v", d)
	}
	thick := convert("thick", "preallocated")
	got, _ = os.ReadFile(thick)
	if !bytes.Equal(got, source) || du(t, thick) < int64(len(source)) {
		t.Fatalf("thick conversion: equal %v, allocated %d", bytes.Equal(got, source), du(t, thick))
	}
	// A flat (thick) disk converts to thin: only its non-zero blocks are allocated.
	task, err := vdm.CopyVirtualDisk(ctx, "[datastore1] thick.vmdk", nil, "[datastore1] thin2.vmdk", nil,
		&types.FileBackedVirtualDiskSpec{VirtualDiskSpec: types.VirtualDiskSpec{DiskType: "thin", AdapterType: "lsiLogic"}}, false)
	lb.must(task, err)
	thin2 := lb.local("datastore1", "thin2-flat.vmdk")
	got, _ = os.ReadFile(thin2)
	if !bytes.Equal(got, source) || du(t, thin2) > alloc+int64(len(info.ChangedArea))*2*cbtGranularity {
		t.Fatalf("thick to thin: equal %v, allocated %d", bytes.Equal(got, source), du(t, thin2))
	}
	// The destination must not exist.
	task, err = vdm.CopyVirtualDisk(ctx, "[datastore1] thick.vmdk", nil, "[datastore1] thin2.vmdk", nil, nil, false)
	if _, err := lb.wait(task, err); err == nil || !strings.Contains(err.Error(), "AlreadyExists") {
		t.Fatalf("copy onto an existing disk: %v", err)
	}
}

func TestRelocateAppliesDiskBacking(t *testing.T) {
	spec := baseSpec(t.TempDir(), "esx")
	spec.VMs[0].Power = "poweredOff"
	spec.VMs[0].Disks = []DiskSpec{{SizeMiB: 16, Fill: "scattered"}, {SizeMiB: 8, Datastore: "datastore1", Fill: "zero"}}
	lb := startLab(t, spec)
	ctx := context.Background()
	vm := lb.vm("ir-app01")
	disk0 := lb.local("IR-NFS", "ir-app01/ir-app01-flat.vmdk")
	disk1 := lb.local("datastore1", "ir-app01/ir-app01_1-flat.vmdk")
	want0, _ := os.ReadFile(disk0)
	want1, _ := os.ReadFile(disk1)
	if du(t, disk1) < 8<<20 || du(t, disk0) >= 16<<20 {
		t.Fatalf("before: disk0 %d, disk1 %d allocated", du(t, disk0), du(t, disk1))
	}
	disks := object.VirtualDeviceList(lb.moVM(vm).Config.Hardware.Device).SelectByType((*types.VirtualDisk)(nil))
	var ds1, nfs types.ManagedObjectReference
	for name, ref := range lb.l.dsRefs {
		if name == "datastore1" {
			ds1 = ref
		} else {
			nfs = ref
		}
	}
	locator := func(d types.BaseVirtualDevice, ds types.ManagedObjectReference, thin bool) types.VirtualMachineRelocateSpecDiskLocator {
		return types.VirtualMachineRelocateSpecDiskLocator{DiskId: d.GetVirtualDevice().Key, Datastore: ds,
			DiskBackingInfo: &types.VirtualDiskFlatVer2BackingInfo{DiskMode: "persistent", ThinProvisioned: types.NewBool(thin)}}
	}
	// The thick disk of zeros becomes thin as it moves; the thin one becomes thick.
	lb.must(vm.Relocate(ctx, types.VirtualMachineRelocateSpec{Datastore: &nfs,
		Disk: []types.VirtualMachineRelocateSpecDiskLocator{locator(disks[0], ds1, false), locator(disks[1], nfs, true)}}, ""))
	moved0 := lb.local("datastore1", "ir-app01/ir-app01-flat.vmdk")
	moved1 := lb.local("IR-NFS", "ir-app01/ir-app01_1-flat.vmdk")
	got0, _ := os.ReadFile(moved0)
	got1, _ := os.ReadFile(moved1)
	if !bytes.Equal(got0, want0) || !bytes.Equal(got1, want1) {
		t.Fatal("content changed by the relocation")
	}
	if du(t, moved0) < 16<<20 || du(t, moved1) > 64<<10 {
		t.Fatalf("after: disk0 %d, disk1 %d allocated", du(t, moved0), du(t, moved1))
	}
	after := object.VirtualDeviceList(lb.moVM(vm).Config.Hardware.Device).SelectByType((*types.VirtualDisk)(nil))
	b0 := after[0].(*types.VirtualDisk).Backing.(*types.VirtualDiskFlatVer2BackingInfo)
	b1 := after[1].(*types.VirtualDisk).Backing.(*types.VirtualDiskFlatVer2BackingInfo)
	if *b0.ThinProvisioned || !*b1.ThinProvisioned {
		t.Fatalf("backings: disk0 thin %v, disk1 thin %v", *b0.ThinProvisioned, *b1.ThinProvisioned)
	}
}
