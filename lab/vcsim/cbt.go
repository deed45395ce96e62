package main

// Changed block tracking across snapshots, as a real host keeps it (lab/vcsim/README.md, "Real-host
// behaviours"):
//
//   - Every snapshot taken while config.changeTrackingEnabled is true carries a changeId per disk in
//     the snapshot's config.hardware.device[].backing.changeId ("Whenever a virtual machine snapshot is
//     created, associated with that snapshot is a changeId", VDDK Programming Guide, "Changed Block
//     Tracking on Virtual Disks"). The lab's form is "<epoch uuid>/<sequence>": the epoch is new each
//     time tracking starts, the sequence counts the snapshots since.
//   - QueryChangedDiskAreas(snapshot, deviceKey, startOffset, changeId) returns the areas the guest
//     wrote between the point changeId names and that snapshot, in cbtGranularity blocks.
//   - Switching tracking off (ReconfigVM_Task changeTrackingEnabled false) discards the tracking; a
//     changeId from before answers FileFault ("Attempts to collect information about changes that
//     occurred before change tracking was enabled result in a FileFault error", same guide).
//
// The tracking lives in memory: a lab restarted from its journal starts every disk untracked, so an
// old changeId answers FileFault there too (README "Known differences").

import (
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/vmware/govmomi/simulator"
	"github.com/vmware/govmomi/vim25/types"
)

// cbtTrack is one disk's change tracking; guarded by its vmState's mu.
type cbtTrack struct {
	epoch string // "" while the disk is not tracked
	seq   int    // snapshots taken in this epoch
	// changed holds, per sequence, the blocks (index of cbtGranularity) the guest wrote while that
	// sequence was the newest.
	changed map[int]map[int64]bool
}

// cbtMark is the tracking point a snapshot froze for one disk.
type cbtMark struct {
	epoch string
	seq   int
}

func (m cbtMark) changeID() string { return fmt.Sprintf("%s/%d", m.epoch, m.seq) }

// noteWrite records a guest write of disk d; vs.mu must be held.
func (d *diskState) noteWrite(off, n int64) {
	if d.cbt.epoch == "" || n <= 0 {
		return
	}
	if d.cbt.changed == nil {
		d.cbt.changed = map[int]map[int64]bool{}
	}
	set := d.cbt.changed[d.cbt.seq]
	if set == nil {
		set = map[int64]bool{}
		d.cbt.changed[d.cbt.seq] = set
	}
	for b := off / cbtGranularity; b*cbtGranularity < off+n; b++ {
		set[b] = true
	}
}

// resetCBT discards the tracking of every disk (change tracking switched off or on).
func (vs *vmState) resetCBT() {
	vs.mu.Lock()
	defer vs.mu.Unlock()
	for _, d := range vs.disks {
		d.cbt = cbtTrack{}
	}
}

// markSnapshotCBT advances every disk's tracking at a new snapshot taken with change tracking on and
// returns the marks by device key (nil when tracking is off). vs.mu must be held, and held since the
// snapshot's deltas were added: a guest write after them must count for the next sequence.
func (l *Launcher) markSnapshotCBT(on bool, keys []int32, vs *vmState) map[int32]cbtMark {
	if !on {
		return nil
	}
	marks := map[int32]cbtMark{}
	for i, d := range vs.disks {
		if i >= len(keys) {
			break
		}
		if d.cbt.epoch == "" {
			// Unique across lab runs too: tracking lives in memory, so after a restart a changeId of the
			// run before must name an epoch the host no longer has (FileFault), never a new one's.
			n := l.cbtEpochs.Add(1)
			now := uint64(time.Now().UnixNano())
			d.cbt = cbtTrack{epoch: uuidString(mix(vs.seed, uint64(i), 0xcb7, n, now), mix(vs.seed, 0xe90c, n, now))}
		}
		d.cbt.seq++
		marks[keys[i]] = cbtMark{epoch: d.cbt.epoch, seq: d.cbt.seq}
	}
	return marks
}

// setSnapshotChangeIDs writes the marks into the snapshot's config (its disks' backing.changeId).
func setSnapshotChangeIDs(ctx *simulator.Context, ref types.ManagedObjectReference, marks map[int32]cbtMark) {
	snap, ok := ctx.Map.Get(ref).(*simulator.VirtualMachineSnapshot)
	if !ok || len(marks) == 0 {
		return
	}
	ctx.WithLock(snap, func() {
		for _, dev := range snap.Config.Hardware.Device {
			disk, ok := dev.(*types.VirtualDisk)
			if !ok {
				continue
			}
			m, ok := marks[disk.Key]
			if !ok {
				continue
			}
			if b, ok := disk.Backing.(*types.VirtualDiskFlatVer2BackingInfo); ok {
				b.ChangeId = m.changeID()
			}
		}
	})
}

// parseChangeID splits "<epoch>/<seq>".
func parseChangeID(s string) (cbtMark, bool) {
	epoch, seq, ok := strings.Cut(s, "/")
	n, err := strconv.Atoi(seq)
	if !ok || epoch == "" || err != nil || n < 0 {
		return cbtMark{}, false
	}
	return cbtMark{epoch: epoch, seq: n}, true
}

// changedSince returns the areas disk d changed between the point since names and the snapshot mark
// at; vs.mu must be held.
func (d *diskState) changedSince(since, at cbtMark) ([]span, types.BaseMethodFault) {
	if since.epoch != at.epoch || d.cbt.epoch != at.epoch {
		return nil, &types.FileFault{File: fmt.Sprintf("changeId %s: change tracking was reset since (the disk's tracking now starts at %s/1); the changes before it are not known", since.changeID(), at.epoch)}
	}
	if since.seq > at.seq {
		return nil, &types.InvalidArgument{InvalidProperty: "changeId"}
	}
	var blocks []int64
	seen := map[int64]bool{}
	for s := since.seq; s < at.seq; s++ {
		for b := range d.cbt.changed[s] {
			if !seen[b] {
				seen[b] = true
				blocks = append(blocks, b)
			}
		}
	}
	sort.Slice(blocks, func(i, j int) bool { return blocks[i] < blocks[j] })
	spans := make([]span, 0, len(blocks))
	for _, b := range blocks {
		spans = append(spans, span{b * cbtGranularity, cbtGranularity})
	}
	return roundSpans(spans, cbtGranularity, d.capacity), nil
}
