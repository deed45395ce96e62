package main

// Thin disks, as a real host handles them:
//
//   - Changed block tracking: QueryChangedDiskAreas with changeId "*" on a snapshot returns the
//     disk's allocated areas, for snapshots taken while config.changeTrackingEnabled was true
//     (vSphere: CBT takes effect at the next stun/unstun, a snapshot being one). The areas are
//     the allocated ranges of every chain level up to that snapshot: SEEK_DATA/SEEK_HOLE of a
//     flat extent, the records of a delta; rounded out to cbtGranularity.
//   - VirtualDiskManager.CopyVirtualDisk_Task converts a disk to a VMFS disk (descriptor +
//     "-flat.vmdk") of the provisioning destSpec.diskType asks: thin writes only non-zero data
//     (the file stays sparse), preallocated/thick allocates the whole capacity, eagerZeroedThick
//     likewise and records it. Sources: a VMFS/FLAT disk, or a hosted sparse disk whose
//     descriptor names several extents (SPARSE extents in the VMware Virtual Disk Format's
//     SparseExtentHeader "KDMV" layout, FLAT and ZERO extents), the form an upload takes.

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"

	"github.com/vmware/govmomi/simulator"
	"github.com/vmware/govmomi/vim25/methods"
	"github.com/vmware/govmomi/vim25/soap"
	"github.com/vmware/govmomi/vim25/types"
)

const (
	// cbtGranularity is the block size of the areas QueryChangedDiskAreas reports (64 KiB).
	cbtGranularity = 64 << 10
	// sparseMagic is SparseExtentHeader.magicNumber, "KDMV" read little endian.
	sparseMagic = 0x564d444b
	seekData    = 3 // SEEK_DATA (Linux)
	seekHole    = 4 // SEEK_HOLE (Linux)
)

// span is a byte range [off, off+n).
type span struct{ off, n int64 }

// dataSpans returns the allocated ranges of a local file (SEEK_DATA/SEEK_HOLE); a file system
// without them reports the whole file.
func dataSpans(file string) ([]span, error) {
	f, err := os.Open(file)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	size := fi.Size()
	var out []span
	for off := int64(0); off < size; {
		start, err := f.Seek(off, seekData)
		if err != nil {
			if errors.Is(err, syscall.ENXIO) {
				break
			}
			if errors.Is(err, syscall.EINVAL) {
				return []span{{0, size}}, nil
			}
			return nil, err
		}
		end, err := f.Seek(start, seekHole)
		if err != nil {
			return nil, err
		}
		out = append(out, span{start, end - start})
		off = end
	}
	return out, nil
}

// roundSpans aligns spans outwards to g, clips them to size and merges overlapping ones.
func roundSpans(in []span, g, size int64) []span {
	sort.Slice(in, func(i, j int) bool { return in[i].off < in[j].off })
	var out []span
	for _, s := range in {
		if s.n <= 0 {
			continue
		}
		a := s.off / g * g
		b := min(size, (s.off+s.n+g-1)/g*g)
		if a >= b {
			continue
		}
		if k := len(out) - 1; k >= 0 && a <= out[k].off+out[k].n {
			out[k].n = max(out[k].n, b-out[k].off)
			continue
		}
		out = append(out, span{a, b - a})
	}
	return out
}

// allocatedSpans returns the allocated areas of the chain levels given (base first).
func (l *Launcher) allocatedSpans(levels []dsPath, capacity int64) ([]span, error) {
	var all []span
	for _, p := range levels {
		ext, delta, err := l.extentOf(p)
		if err != nil {
			return nil, err
		}
		if delta {
			recs, err := readDeltaRecords(ext)
			if err != nil {
				return nil, err
			}
			for _, r := range recs {
				all = append(all, span{r.Off, r.Len})
			}
			continue
		}
		s, err := dataSpans(ext)
		if err != nil {
			return nil, err
		}
		all = append(all, s...)
	}
	return roundSpans(all, cbtGranularity, capacity), nil
}

// noteSnapshotCBT records that a snapshot was taken with change tracking on.
func (l *Launcher) noteSnapshotCBT(vm *simulator.VirtualMachine, snap types.ManagedObjectReference) {
	if on := vm.Config.ChangeTrackingEnabled; on != nil && *on {
		l.cbtSnapshots.Store(snap.Value, true)
	}
}

// changedAreas answers QueryChangedDiskAreas: changeId "*" gives the allocated areas, a changeId of
// an earlier snapshot the areas written since (cbt.go).
func (l *Launcher) changedAreas(vm *simulator.VirtualMachine, req *types.QueryChangedDiskAreas) (*types.DiskChangeInfo, types.BaseMethodFault) {
	since, sinceOK := parseChangeID(req.ChangeId)
	if req.ChangeId != "*" && !sinceOK {
		return nil, &types.InvalidArgument{InvalidProperty: "changeId"}
	}
	if req.Snapshot == nil {
		return nil, &types.InvalidArgument{InvalidProperty: "snapshot"}
	}
	vs := l.vmByRef(vm.Self.Value)
	if vs == nil {
		return nil, &types.ManagedObjectNotFound{Obj: vm.Self}
	}
	if _, ok := l.cbtSnapshots.Load(req.Snapshot.Value); !ok {
		return nil, &types.FileFault{File: fmt.Sprintf("%s: change tracking was not active when snapshot %s was taken", vm.Name, req.Snapshot.Value)}
	}
	keys := diskKeys(vm)
	vs.mu.RLock()
	level := -1
	var mark *cbtMark
	for _, s := range vs.snaps {
		if s.ref.Value == req.Snapshot.Value {
			level = s.level
			if m, ok := s.cbt[req.DeviceKey]; ok {
				mark = &m
			}
		}
	}
	di := -1
	for i, k := range keys {
		if k == req.DeviceKey {
			di = i
		}
	}
	if level < 0 || di < 0 || di >= len(vs.disks) {
		vs.mu.RUnlock()
		if level < 0 {
			return nil, &types.ManagedObjectNotFound{Obj: *req.Snapshot}
		}
		return nil, &types.InvalidArgument{InvalidProperty: "deviceKey"}
	}
	d := vs.disks[di]
	if level-d.base <= 0 { // a disk added after the snapshot is not part of it
		vs.mu.RUnlock()
		return nil, &types.InvalidArgument{InvalidProperty: "deviceKey"}
	}
	capacity := d.capacity
	var spans []span
	if req.ChangeId != "*" {
		if mark == nil { // taken before tracking covered this disk
			vs.mu.RUnlock()
			return nil, &types.FileFault{File: fmt.Sprintf("%s: snapshot %s holds no changeId for disk %d", vm.Name, req.Snapshot.Value, req.DeviceKey)}
		}
		var f types.BaseMethodFault
		spans, f = d.changedSince(since, *mark)
		vs.mu.RUnlock()
		if f != nil {
			return nil, f
		}
	} else {
		levels := append([]dsPath(nil), d.chain[:min(level-d.base, len(d.chain))]...)
		var err error
		spans, err = l.allocatedSpans(levels, capacity)
		vs.mu.RUnlock()
		if err != nil {
			return nil, &types.FileFault{File: err.Error()}
		}
	}
	if req.StartOffset < 0 || req.StartOffset > capacity {
		return nil, &types.InvalidArgument{InvalidProperty: "startOffset"}
	}
	info := &types.DiskChangeInfo{StartOffset: req.StartOffset, Length: capacity - req.StartOffset}
	for _, s := range spans {
		if s.off+s.n <= req.StartOffset {
			continue
		}
		a := max(s.off, req.StartOffset)
		info.ChangedArea = append(info.ChangedArea, types.DiskChangeExtent{Start: a, Length: s.off + s.n - a})
	}
	return info, nil
}

func (v *labVM) QueryChangedDiskAreas(ctx *simulator.Context, req *types.QueryChangedDiskAreas) soap.HasFault {
	body := &methods.QueryChangedDiskAreasBody{}
	info, f := v.l.changedAreas(v.VirtualMachine, req)
	if f != nil {
		msg := ""
		if ff, ok := f.(*types.FileFault); ok {
			msg = ff.File
		}
		body.Fault_ = simulator.Fault(msg, f)
		return body
	}
	body.Res = &types.QueryChangedDiskAreasResponse{Returnval: *info}
	return body
}

// --- descriptors with several extents ----------------------------------------------------

// extentLine is one line of a descriptor's extent description.
type extentLine struct {
	sectors int64
	kind    string // FLAT | SPARSE | ZERO | VMFS | VMFSSPARSE
	file    string // relative to the descriptor; "" for ZERO
	offset  int64  // FLAT: sectors into the file
}

// parseExtentLines returns every extent of a descriptor, in order, and its ddb/header keys.
func parseExtentLines(text string) ([]extentLine, map[string]string, error) {
	var out []extentLine
	keys := map[string]string{}
	for _, line := range strings.Split(text, "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		f := strings.Fields(line)
		if len(f) >= 3 && (f[0] == "RW" || f[0] == "RDONLY" || f[0] == "NOACCESS") {
			n, err := strconv.ParseInt(f[1], 10, 64)
			if err != nil {
				return nil, nil, fmt.Errorf("extent line %q: %v", line, err)
			}
			e := extentLine{sectors: n, kind: f[2]}
			if e.kind != "ZERO" {
				if len(f) < 4 {
					return nil, nil, fmt.Errorf("extent line %q names no file", line)
				}
				rest := strings.Join(f[3:], " ")
				q := strings.LastIndex(rest, `"`)
				e.file = strings.Trim(rest[:q+1], `"`)
				if tail := strings.TrimSpace(rest[q+1:]); tail != "" {
					e.offset, _ = strconv.ParseInt(tail, 10, 64)
				}
			}
			out = append(out, e)
			continue
		}
		if k, v, ok := strings.Cut(line, "="); ok {
			keys[strings.ToLower(strings.TrimSpace(k))] = strings.Trim(strings.TrimSpace(v), `"`)
		}
	}
	if len(out) == 0 {
		return nil, nil, fmt.Errorf("descriptor has no extent")
	}
	return out, keys, nil
}

// --- hosted sparse extents ("KDMV") ------------------------------------------------------

// sparseHeader is the part of SparseExtentHeader the conversion needs.
type sparseHeader struct {
	capacity   int64 // sectors
	grainSize  int64 // sectors
	numGTEs    int64
	gdOffset   int64 // sectors
	compressed bool
}

func readSparseHeader(f *os.File) (*sparseHeader, error) {
	b := make([]byte, 512)
	if _, err := f.ReadAt(b, 0); err != nil {
		return nil, err
	}
	le := binary.LittleEndian
	if le.Uint32(b[0:]) != sparseMagic {
		return nil, fmt.Errorf("not a sparse extent (magic %08x)", le.Uint32(b[0:]))
	}
	h := &sparseHeader{
		capacity:   int64(le.Uint64(b[12:])),
		grainSize:  int64(le.Uint64(b[20:])),
		numGTEs:    int64(le.Uint32(b[44:])),
		gdOffset:   int64(le.Uint64(b[56:])),
		compressed: le.Uint16(b[77:]) != 0,
	}
	if h.grainSize <= 0 || h.numGTEs <= 0 || h.gdOffset <= 0 {
		return nil, fmt.Errorf("sparse extent header is invalid")
	}
	if h.compressed {
		return nil, fmt.Errorf("compressed (streamOptimized) extents are not supported by CopyVirtualDisk here")
	}
	return h, nil
}

// sparseGrains calls fn with each allocated grain of a sparse extent: its logical byte offset
// within the extent and its data.
func sparseGrains(file string, fn func(off int64, data []byte) error) error {
	f, err := os.Open(file)
	if err != nil {
		return err
	}
	defer f.Close()
	h, err := readSparseHeader(f)
	if err != nil {
		return err
	}
	grainBytes := h.grainSize * sectorSize
	gtCoverage := h.numGTEs * h.grainSize
	numGTs := (h.capacity + gtCoverage - 1) / gtCoverage
	gd := make([]byte, numGTs*4)
	if _, err := f.ReadAt(gd, h.gdOffset*sectorSize); err != nil {
		return fmt.Errorf("grain directory: %v", err)
	}
	gt := make([]byte, h.numGTEs*4)
	grain := make([]byte, grainBytes)
	for i := int64(0); i < numGTs; i++ {
		gtSector := int64(binary.LittleEndian.Uint32(gd[i*4:]))
		if gtSector == 0 {
			continue
		}
		if _, err := f.ReadAt(gt, gtSector*sectorSize); err != nil {
			return fmt.Errorf("grain table %d: %v", i, err)
		}
		for j := int64(0); j < h.numGTEs; j++ {
			g := int64(binary.LittleEndian.Uint32(gt[j*4:]))
			if g == 0 {
				continue
			}
			logical := (i*h.numGTEs + j) * grainBytes
			if logical >= h.capacity*sectorSize {
				break
			}
			if _, err := f.ReadAt(grain, g*sectorSize); err != nil && !errors.Is(err, io.EOF) {
				return fmt.Errorf("grain at sector %d: %v", g, err)
			}
			if err := fn(logical, grain); err != nil {
				return err
			}
		}
	}
	return nil
}

// --- CopyVirtualDisk_Task -------------------------------------------------------------

type labVDM struct {
	*simulator.VirtualDiskManager
	l *Launcher
}

func (*labVDM) lab() {}

func (m *labVDM) CopyVirtualDiskTask(ctx *simulator.Context, req *types.CopyVirtualDisk_Task) soap.HasFault {
	t := m.l.labTask(ctx, m.VirtualDiskManager.Self, "copyVirtualDisk", func(*simulator.Task) (types.AnyType, types.BaseMethodFault) {
		diskType := ""
		adapter := "lsilogic"
		if s, ok := req.DestSpec.(*types.FileBackedVirtualDiskSpec); ok {
			diskType, adapter = s.DiskType, s.AdapterType
		} else if s, ok := req.DestSpec.(*types.VirtualDiskSpec); ok && s != nil {
			diskType, adapter = s.DiskType, s.AdapterType
		}
		return nil, m.l.copyVirtualDisk(req.SourceName, req.DestName, diskType, adapter)
	}, nil)
	ref := t.Self
	return &methods.CopyVirtualDisk_TaskBody{Res: &types.CopyVirtualDisk_TaskResponse{Returnval: ref}}
}

// copyVirtualDisk converts the disk at source into a VMFS disk at dest of the given type
// ("" = the source's provisioning).
func (l *Launcher) copyVirtualDisk(source, dest, diskType, adapter string) types.BaseMethodFault {
	src, ok1 := parseDSPath(source)
	dst, ok2 := parseDSPath(dest)
	if !ok1 {
		return &types.InvalidDatastorePath{DatastorePath: source}
	}
	if !ok2 {
		return &types.InvalidDatastorePath{DatastorePath: dest}
	}
	srcLocal, ok1 := l.local(src)
	dstLocal, ok2 := l.local(dst)
	if !ok1 || !ok2 {
		return &types.NotFound{}
	}
	text, err := os.ReadFile(srcLocal)
	if err != nil {
		return &types.FileNotFound{FileFault: types.FileFault{File: source}}
	}
	extents, keys, err := parseExtentLines(string(text))
	if err != nil {
		return &types.InvalidArgument{InvalidProperty: "sourceName: " + err.Error()}
	}
	if diskType == "" {
		diskType = "preallocated"
		if keys["ddb.thinprovisioned"] == "1" || strings.Contains(strings.ToLower(keys["createtype"]), "sparse") {
			diskType = "thin"
		}
	}
	switch diskType {
	case "thin", "preallocated", "thick", "eagerZeroedThick":
	default:
		return &types.InvalidArgument{InvalidProperty: "destSpec.diskType"}
	}
	flatName := strings.TrimSuffix(path.Base(dst.Path), ".vmdk") + "-flat.vmdk"
	flatLocal := filepath.Join(filepath.Dir(dstLocal), flatName)
	if fileExists(dstLocal) || fileExists(flatLocal) {
		return &types.FileAlreadyExists{FileFault: types.FileFault{File: dest}}
	}
	var capacity int64
	for _, e := range extents {
		capacity += e.sectors * sectorSize
	}
	// A child disk (parentCID set): the copy is the chain flattened, the parent's data under the
	// child's grains; the parent must be the one the child was made from (its CID).
	parents, pf := l.parentChain(src, keys, capacity)
	if pf != nil {
		return pf
	}
	out, err := os.OpenFile(flatLocal, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o644)
	if err != nil {
		return &types.CannotCreateFile{FileFault: types.FileFault{File: dest}}
	}
	fail := func(err error) types.BaseMethodFault {
		out.Close()
		_ = os.Remove(flatLocal)
		l.logf("CopyVirtualDisk %s -> %s: %v", source, dest, err)
		return &types.FileFault{File: fmt.Sprintf("%s: %v", source, err)}
	}
	if err := out.Truncate(capacity); err != nil {
		return fail(err)
	}
	thin := diskType == "thin"
	if !thin {
		if err := preallocate(out, capacity); err != nil {
			return fail(err)
		}
	}
	// Thin: a block of zeros is not written (it stays unallocated), as vmkfstools -d thin does; the
	// block is the datastore's file-system block (4 KiB here), so the copy allocates what the source did.
	// Paced as the host's data mover moves the bytes: what it reads at the source datastore's read
	// rate, what it writes at the target's write rate (only the allocated data is read; the thick
	// types' preallocation is not paced, as a lazily zeroed VMFS allocation is metadata only).
	readPacer, writePacer := l.rates.dsRead[src.DS], l.rates.dsWrite[dst.DS]
	// overlay: a child level over its parent's data, whose grains replace the parent's whole, zeros included.
	overlay := false
	put := func(off int64, data []byte) error {
		paceBytes(int64(len(data)), readPacer)
		if !thin || overlay {
			paceBytes(int64(len(data)), writePacer)
			_, err := out.WriteAt(data, off)
			return err
		}
		written := int64(0)
		for i := 0; i < len(data); i += blockSize {
			b := data[i:min(len(data), i+blockSize)]
			if isZero(b) {
				continue
			}
			if _, err := out.WriteAt(b, off+int64(i)); err != nil {
				return err
			}
			written += int64(len(b))
		}
		paceBytes(written, writePacer)
		return nil
	}
	for _, p := range parents {
		if err := copyExtents(p.extents, p.dir, put); err != nil {
			return fail(err)
		}
		overlay = true
	}
	if err := copyExtents(extents, filepath.Dir(srcLocal), put); err != nil {
		return fail(err)
	}
	if err := out.Sync(); err != nil {
		return fail(err)
	}
	if err := out.Close(); err != nil {
		return fail(err)
	}
	desc := flatDescriptor(flatName, capacity, hashString(dest), 0)
	if adapter != "" {
		desc.setDDB("adapterType", adapter)
	}
	if thin {
		desc.setDDB("thinProvisioned", "1")
	}
	if diskType == "eagerZeroedThick" {
		desc.setDDB("quickmig.eagerlyScrub", "1")
	}
	if err := writeFileAtomic(dstLocal, []byte(desc.String())); err != nil {
		_ = os.Remove(flatLocal)
		return &types.CannotCreateFile{FileFault: types.FileFault{File: dest}}
	}
	go l.refreshAllSpace()
	return nil
}

// copyExtents reads the data of a descriptor's extents (files relative to dir) into put, by disk offset.
func copyExtents(extents []extentLine, dir string, put func(off int64, data []byte) error) error {
	base := int64(0)
	for _, e := range extents {
		size := e.sectors * sectorSize
		file := filepath.Join(dir, filepath.FromSlash(e.file))
		var err error
		switch e.kind {
		case "ZERO":
		case "FLAT", "VMFS":
			err = copyFlatData(file, e.offset*sectorSize, size, func(off int64, data []byte) error { return put(base+off, data) })
		case "SPARSE":
			err = sparseGrains(file, func(off int64, data []byte) error {
				if off >= size {
					return nil
				}
				return put(base+off, data[:min(int64(len(data)), size-off)])
			})
		default:
			err = fmt.Errorf("extent type %s is not supported", e.kind)
		}
		if err != nil {
			return err
		}
		base += size
	}
	return nil
}

// parentDisk is one parent level of a child disk: its extents and the folder they are relative to.
type parentDisk struct {
	extents []extentLine
	dir     string
}

// parentChain resolves the parents of a child descriptor (parentCID set), base first. Each
// parentFileNameHint is resolved as readChain resolves it (relative to the child's folder, or a datastore
// path), and each parent must be the disk its child was made from: its CID equals the child's parentCID,
// as a host checks when it opens a chain ("The parent virtual disk has been modified since the child was
// created"). Empty for a disk without a parent.
func (l *Launcher) parentChain(source dsPath, keys map[string]string, capacity int64) ([]parentDisk, types.BaseMethodFault) {
	var chain []parentDisk
	for range 64 {
		pcid, ok := hexCID(keys["parentcid"])
		if !ok || pcid == 0xffffffff {
			return chain, nil
		}
		hint := keys["parentfilenamehint"]
		if hint == "" {
			return nil, &types.InvalidArgument{InvalidProperty: "sourceName: a child disk without parentFileNameHint"}
		}
		parent := resolveRef(source.Dir(), hint)
		file, ok := l.local(parent)
		text, err := os.ReadFile(file)
		if !ok || err != nil {
			return nil, &types.FileNotFound{FileFault: types.FileFault{File: fmt.Sprintf("%s (the parent of %s)", hint, source)}}
		}
		extents, pkeys, err := parseExtentLines(string(text))
		if err != nil {
			return nil, &types.InvalidArgument{InvalidProperty: "sourceName: parent " + err.Error()}
		}
		if cid, _ := hexCID(pkeys["cid"]); cid != pcid {
			return nil, &types.FileFault{File: fmt.Sprintf("%s: the parent virtual disk has been modified since the child was created (parent CID %s, the child expects %08x)", source, pkeys["cid"], pcid)}
		}
		var size int64
		for _, e := range extents {
			size += e.sectors * sectorSize
		}
		if size != capacity {
			return nil, &types.FileFault{File: fmt.Sprintf("%s: the parent's capacity %d differs from the child's %d", source, size, capacity)}
		}
		chain = append([]parentDisk{{extents: extents, dir: filepath.Dir(file)}}, chain...)
		source, keys = parent, pkeys
	}
	return nil, &types.FileFault{File: fmt.Sprintf("%s: a chain of more than 64 parents", source)}
}

// hexCID reads a descriptor's CID or parentCID (8 hex digits, leading zeros optional).
func hexCID(v string) (uint32, bool) {
	n, err := strconv.ParseUint(strings.TrimSpace(v), 16, 32)
	return uint32(n), err == nil
}

// setDDB sets a ddb key of a descriptor.
func (d *Descriptor) setDDB(k, v string) {
	for i, e := range d.DDB {
		if e.k == k {
			d.DDB[i].v = v
			return
		}
	}
	d.DDB = append(d.DDB, kv{k, v})
}

// ddb returns a ddb key of a descriptor ("" when absent).
func (d *Descriptor) ddb(k string) string {
	for _, e := range d.DDB {
		if e.k == k {
			return e.v
		}
	}
	return ""
}

// copyFlatData calls fn with the allocated data of [start, start+size) of a flat file, in
// blocks of cbtGranularity, offsets relative to start.
func copyFlatData(file string, start, size int64, fn func(off int64, data []byte) error) error {
	spans, err := dataSpans(file)
	if err != nil {
		return err
	}
	f, err := os.Open(file)
	if err != nil {
		return err
	}
	defer f.Close()
	buf := make([]byte, cbtGranularity)
	for _, s := range roundSpans(spans, cbtGranularity, start+size) {
		for off := max(s.off, start); off < s.off+s.n; off += cbtGranularity {
			n := min(int64(cbtGranularity), s.off+s.n-off)
			got, err := f.ReadAt(buf[:n], off)
			if err != nil && !errors.Is(err, io.EOF) {
				return err
			}
			clear(buf[got:n])
			if err := fn(off-start, buf[:n]); err != nil {
				return err
			}
		}
	}
	return nil
}

func isZero(b []byte) bool {
	var z [4096]byte
	for len(b) > 0 {
		n := min(len(b), len(z))
		if !bytes.Equal(b[:n], z[:n]) {
			return false
		}
		b = b[n:]
	}
	return true
}

// preallocate allocates a file's whole size (thick), with fallocate where the system has it.
func preallocate(f *os.File, size int64) error {
	if size == 0 {
		return nil
	}
	if err := syscall.Fallocate(int(f.Fd()), 0, 0, size); err == nil {
		return nil
	}
	zeros := make([]byte, 1<<20)
	for off := int64(0); off < size; off += int64(len(zeros)) {
		n := min(int64(len(zeros)), size-off)
		if _, err := f.WriteAt(zeros[:n], off); err != nil {
			return err
		}
	}
	return nil
}

// writeScattered makes a thin disk about 10 % allocated: each 1 MiB slot is, with probability
// 1/8, the start of a run of 512 KiB to 1 MiB of pattern blocks (as fill "pattern" has them);
// the rest is holes.
func writeScattered(f *os.File, size int64, seed uint64, disk int) error {
	if err := f.Truncate(size); err != nil {
		return err
	}
	const slot = 1 << 20
	blk := make([]byte, blockSize)
	run := make([]byte, 0, slot)
	for s := int64(0); s*slot < size; s++ {
		r := mix(seed, uint64(disk), uint64(s), 0x5ca7)
		if r%8 != 0 {
			continue
		}
		blocks := int64(128 + (r>>8)%129) // 512 KiB .. 1 MiB in 4 KiB blocks
		start := s * slot
		n := min(blocks*blockSize, size-start)
		run = run[:0]
		for off := int64(0); off < n; off += blockSize {
			fillPRNG(blk, mix(seed, uint64(disk), uint64((start+off)/blockSize)))
			run = append(run, blk[:min(blockSize, n-off)]...)
		}
		if _, err := f.WriteAt(run, start); err != nil {
			return err
		}
	}
	return nil
}

// applyDiskBackings gives each disk of a relocation the provisioning its locator's diskBackingInfo
// asks (thinProvisioned / eagerlyScrub), converting the base extent in place as a host's data mover
// does while it moves the disk: thin keeps only non-zero blocks, thick allocates the whole extent.
func (l *Launcher) applyDiskBackings(vs *vmState, locs []types.VirtualMachineRelocateSpecDiskLocator, keys []int32) types.BaseMethodFault {
	for _, loc := range locs {
		b, ok := loc.DiskBackingInfo.(*types.VirtualDiskFlatVer2BackingInfo)
		if !ok || b.ThinProvisioned == nil {
			continue
		}
		idx := -1
		for i, k := range keys {
			if k == loc.DiskId {
				idx = i
			}
		}
		vs.mu.Lock()
		if idx < 0 || idx >= len(vs.disks) {
			vs.mu.Unlock()
			return &types.InvalidArgument{InvalidProperty: "spec.disk.diskId"}
		}
		err := l.reprovision(vs.disks[idx].chain[0], *b.ThinProvisioned, b.EagerlyScrub != nil && *b.EagerlyScrub)
		vs.mu.Unlock()
		if err != nil {
			l.logf("relocate %s: provisioning of disk %d: %v", vs.name, loc.DiskId, err)
			return &types.FileFault{File: err.Error()}
		}
	}
	return nil
}

// reprovision converts a flat base disk in place and records its provisioning in the descriptor.
func (l *Launcher) reprovision(desc dsPath, thin, eager bool) error {
	local := l.mustLocal(desc)
	d, err := readDescriptor(local)
	if err != nil {
		return err
	}
	ext := filepath.Join(filepath.Dir(local), d.Extent)
	if thin {
		fi, err := os.Stat(ext)
		if err != nil {
			return err
		}
		tmp := ext + ".qvthin"
		out, err := os.OpenFile(tmp, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o644)
		if err != nil {
			return err
		}
		err = out.Truncate(fi.Size())
		if err == nil {
			err = copyFlatData(ext, 0, fi.Size(), func(off int64, data []byte) error {
				for i := 0; i < len(data); i += blockSize {
					blk := data[i:min(len(data), i+blockSize)]
					if !isZero(blk) {
						if _, err := out.WriteAt(blk, off+int64(i)); err != nil {
							return err
						}
					}
				}
				return nil
			})
		}
		if cerr := out.Close(); err == nil {
			err = cerr
		}
		if err == nil {
			err = os.Rename(tmp, ext)
		}
		if err != nil {
			_ = os.Remove(tmp)
			return err
		}
	} else {
		f, err := os.OpenFile(ext, os.O_WRONLY, 0o644)
		if err != nil {
			return err
		}
		fi, _ := f.Stat()
		err = preallocate(f, fi.Size())
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return err
		}
	}
	d.setDDB("thinProvisioned", map[bool]string{true: "1", false: "0"}[thin])
	if eager {
		d.setDDB("quickmig.eagerlyScrub", "1")
	} else {
		d.DDB = slicesDeleteKey(d.DDB, "quickmig.eagerlyScrub")
	}
	return writeFileAtomic(local, []byte(d.String()))
}

func slicesDeleteKey(in []kv, k string) []kv {
	out := in[:0]
	for _, e := range in {
		if e.k != k {
			out = append(out, e)
		}
	}
	return out
}
