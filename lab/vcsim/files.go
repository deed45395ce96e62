package main

import (
	"bufio"
	"encoding/binary"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"strconv"
	"strings"
)

const (
	blockSize  = 4096
	sectorSize = 512
)

// --- deterministic data -------------------------------------------------

func splitmix64(x uint64) uint64 {
	x += 0x9e3779b97f4a7c15
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9
	x = (x ^ (x >> 27)) * 0x94d049bb133111eb
	return x ^ (x >> 31)
}

// mix derives a seed from several words.
func mix(words ...uint64) uint64 {
	h := uint64(0x51ed270b27a3a1f5)
	for _, w := range words {
		h = splitmix64(h ^ w)
	}
	return h
}

// fillPRNG fills b with a xorshift64* stream seeded by seed.
func fillPRNG(b []byte, seed uint64) {
	x := splitmix64(seed) | 1
	i := 0
	for ; i+8 <= len(b); i += 8 {
		x ^= x >> 12
		x ^= x << 25
		x ^= x >> 27
		binary.LittleEndian.PutUint64(b[i:], x*0x2545f4914f6cdd1d)
	}
	for ; i < len(b); i++ {
		x ^= x >> 12
		x ^= x << 25
		x ^= x >> 27
		b[i] = byte(x * 0x2545f4914f6cdd1d)
	}
}

// writeFlatExtent creates a flat extent of size bytes.
// fill "pattern": every 4 KiB block is PRNG(seed, disk, block); "sparse": a hole; "zero": zeros;
// "scattered": a thin disk about 10 % allocated in runs scattered over it (thin.go).
func writeFlatExtent(file string, size int64, fill string, seed uint64, disk int) error {
	f, err := os.OpenFile(file, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o644)
	if err != nil {
		return err
	}
	defer f.Close()
	switch fill {
	case "sparse":
		if err := f.Truncate(size); err != nil {
			return err
		}
	case "scattered":
		if err := writeScattered(f, size, seed, disk); err != nil {
			return err
		}
	default:
		w := bufio.NewWriterSize(f, 1<<20)
		blk := make([]byte, blockSize)
		for b := int64(0); b*blockSize < size; b++ {
			n := min(int64(blockSize), size-b*blockSize)
			if fill == "zero" {
				clear(blk)
			} else {
				fillPRNG(blk, mix(seed, uint64(disk), uint64(b)))
			}
			if _, err := w.Write(blk[:n]); err != nil {
				return err
			}
		}
		if err := w.Flush(); err != nil {
			return err
		}
	}
	return f.Sync()
}

// --- .vmx ------------------------------------------------------------------

type kv struct{ k, v string }

// VMX is an ordered .vmx (also .vmsd) key/value file.
type VMX struct{ entries []kv }

func parseVMX(text string) *VMX {
	x := &VMX{}
	for _, line := range strings.Split(text, "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		if !ok {
			continue
		}
		v = strings.TrimSpace(v)
		v = strings.ReplaceAll(strings.Trim(v, `"`), "|22", `"`)
		x.entries = append(x.entries, kv{strings.TrimSpace(k), v})
	}
	return x
}

func readVMX(file string) (*VMX, error) {
	b, err := os.ReadFile(file)
	if err != nil {
		return nil, err
	}
	return parseVMX(string(b)), nil
}

func (x *VMX) Get(k string) string {
	for _, e := range x.entries {
		if strings.EqualFold(e.k, k) {
			return e.v
		}
	}
	return ""
}

func (x *VMX) Set(k, v string) {
	for i, e := range x.entries {
		if strings.EqualFold(e.k, k) {
			x.entries[i].v = v
			return
		}
	}
	x.entries = append(x.entries, kv{k, v})
}

func (x *VMX) Delete(k string) {
	out := x.entries[:0]
	for _, e := range x.entries {
		if !strings.EqualFold(e.k, k) {
			out = append(out, e)
		}
	}
	x.entries = out
}

func (x *VMX) String() string {
	var sb strings.Builder
	for _, e := range x.entries {
		fmt.Fprintf(&sb, "%s = \"%s\"\n", e.k, strings.ReplaceAll(e.v, `"`, `|22`))
	}
	return sb.String()
}

// writeFileAtomic writes via a temp file + rename, so readers never see a torn file.
func writeFileAtomic(file string, data []byte) error {
	tmp := file + ".qvtmp"
	if err := os.WriteFile(tmp, data, 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, file)
}

// --- disk descriptors ---------------------------------------------------------

// Descriptor is a text VMDK descriptor (monolithic flat or vmfsSparse delta).
type Descriptor struct {
	CID        uint32
	ParentCID  uint32
	CreateType string // vmfs | vmfsSparse
	ParentHint string // parentFileNameHint
	Sectors    int64
	ExtentType string // VMFS | VMFSSPARSE
	Extent     string // extent file name (relative to the descriptor)
	DDB        []kv
}

func (d *Descriptor) IsDelta() bool { return d.ParentHint != "" }

func (d *Descriptor) String() string {
	var sb strings.Builder
	sb.WriteString("# Disk DescriptorFile\nversion=1\nencoding=\"UTF-8\"\n")
	fmt.Fprintf(&sb, "CID=%08x\nparentCID=%08x\n", d.CID, d.ParentCID)
	fmt.Fprintf(&sb, "createType=\"%s\"\n", d.CreateType)
	if d.ParentHint != "" {
		fmt.Fprintf(&sb, "parentFileNameHint=\"%s\"\n", d.ParentHint)
	}
	fmt.Fprintf(&sb, "\n# Extent description\nRW %d %s \"%s\"\n", d.Sectors, d.ExtentType, d.Extent)
	sb.WriteString("\n# The Disk Data Base\n#DDB\n\n")
	for _, e := range d.DDB {
		fmt.Fprintf(&sb, "ddb.%s = \"%s\"\n", e.k, e.v)
	}
	return sb.String()
}

func parseDescriptor(text string) (*Descriptor, error) {
	d := &Descriptor{ParentCID: 0xffffffff}
	for _, line := range strings.Split(text, "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		if f := strings.Fields(line); len(f) >= 4 && (f[0] == "RW" || f[0] == "RDONLY") {
			d.Sectors, _ = strconv.ParseInt(f[1], 10, 64)
			d.ExtentType = f[2]
			d.Extent = strings.Trim(strings.Join(f[3:], " "), `"`)
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		if !ok {
			continue
		}
		k, v = strings.TrimSpace(k), strings.Trim(strings.TrimSpace(v), `"`)
		switch strings.ToLower(k) {
		case "cid":
			n, _ := strconv.ParseUint(v, 16, 32)
			d.CID = uint32(n)
		case "parentcid":
			n, _ := strconv.ParseUint(v, 16, 32)
			d.ParentCID = uint32(n)
		case "createtype":
			d.CreateType = v
		case "parentfilenamehint":
			d.ParentHint = v
		default:
			if s, ok := strings.CutPrefix(k, "ddb."); ok {
				d.DDB = append(d.DDB, kv{s, v})
			}
		}
	}
	if d.Extent == "" {
		return nil, fmt.Errorf("descriptor has no extent")
	}
	return d, nil
}

func readDescriptor(file string) (*Descriptor, error) {
	b, err := os.ReadFile(file)
	if err != nil {
		return nil, err
	}
	return parseDescriptor(string(b))
}

func flatDescriptor(extent string, size int64, seed uint64, disk int) *Descriptor {
	sectors := size / sectorSize
	cid := uint32(mix(seed, uint64(disk), 0xc1d))
	return &Descriptor{
		CID: cid, ParentCID: 0xffffffff, CreateType: "vmfs",
		Sectors: sectors, ExtentType: "VMFS", Extent: extent,
		DDB: []kv{
			{"adapterType", "lsilogic"},
			{"geometry.cylinders", strconv.FormatInt(max(1, sectors/(255*63)), 10)},
			{"geometry.heads", "255"},
			{"geometry.sectors", "63"},
			{"longContentID", fmt.Sprintf("%016x%016x", mix(seed, uint64(disk), 1), mix(seed, uint64(disk), 2))},
			{"thinProvisioned", "0"},
			{"uuid", uuidBytes(mix(seed, uint64(disk), 3), mix(seed, uint64(disk), 4), " ")},
			{"virtualHWVersion", "19"},
		},
	}
}

// uuidBytes formats 16 bytes as VMware prints them ("56 4d ..." style).
func uuidBytes(a, b uint64, sep string) string {
	var buf [16]byte
	binary.BigEndian.PutUint64(buf[:8], a)
	binary.BigEndian.PutUint64(buf[8:], b)
	parts := make([]string, 16)
	for i, c := range buf {
		parts[i] = fmt.Sprintf("%02x", c)
	}
	if sep == " " {
		return strings.Join(parts[:8], " ") + "-" + strings.Join(parts[8:], " ")
	}
	return strings.Join(parts, sep)
}

func uuidString(a, b uint64) string {
	s := fmt.Sprintf("%016x%016x", a, b)
	return s[0:8] + "-" + s[8:12] + "-" + s[12:16] + "-" + s[16:20] + "-" + s[20:32]
}

// diskFileName returns ESXi's name for disk i of a VM: name.vmdk, name_1.vmdk, ...
func diskFileName(vm string, i int) string {
	if i == 0 {
		return vm + ".vmdk"
	}
	return fmt.Sprintf("%s_%d.vmdk", vm, i)
}

// extentName returns the extent file name for a descriptor name and kind.
func extentName(desc string, delta bool) string {
	base := strings.TrimSuffix(desc, ".vmdk")
	if delta {
		return base + "-delta.vmdk"
	}
	return base + "-flat.vmdk"
}

// unitNumber returns the SCSI unit of disk i (unit 7 is the controller).
func unitNumber(i int) int32 {
	if i >= 7 {
		return int32(i + 1)
	}
	return int32(i)
}

// --- datastore paths ------------------------------------------------------------

// dsPath is a parsed "[ds] rel/path".
type dsPath struct{ DS, Path string }

func parseDSPath(s string) (dsPath, bool) {
	s = strings.TrimSpace(s)
	if !strings.HasPrefix(s, "[") {
		return dsPath{}, false
	}
	i := strings.Index(s, "]")
	if i < 0 {
		return dsPath{}, false
	}
	return dsPath{s[1:i], strings.TrimSpace(s[i+1:])}, true
}

func (p dsPath) String() string { return fmt.Sprintf("[%s] %s", p.DS, p.Path) }
func (p dsPath) Dir() dsPath    { return dsPath{p.DS, path.Dir(p.Path)} }
func (p dsPath) Join(name string) dsPath {
	return dsPath{p.DS, path.Join(p.Path, name)}
}

// vmxDiskRef converts a disk path to the form a .vmx uses, relative to the VM home.
func vmxDiskRef(home dsPath, disk dsPath) string {
	if disk.DS == home.DS && path.Dir(disk.Path) == home.Path {
		return path.Base(disk.Path)
	}
	return "/vmfs/volumes/" + disk.DS + "/" + disk.Path
}

// resolveRef converts a .vmx/descriptor file reference (relative, /vmfs/volumes/..., or [ds] ...)
// to a datastore path; dir is the directory of the referring file.
func resolveRef(dir dsPath, ref string) dsPath {
	if p, ok := parseDSPath(ref); ok {
		return p
	}
	if rest, ok := strings.CutPrefix(ref, "/vmfs/volumes/"); ok {
		ds, p, _ := strings.Cut(rest, "/")
		return dsPath{ds, p}
	}
	return dir.Join(ref)
}

// dirUsage returns the bytes allocated under dir.
func dirUsage(dir string) int64 {
	var n int64
	_ = filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return nil
		}
		if fi, err := d.Info(); err == nil {
			n += allocated(fi)
		}
		return nil
	})
	return n
}
