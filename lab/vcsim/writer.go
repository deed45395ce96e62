package main

import (
	"fmt"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/vmware/govmomi/vim25/types"
)

// diskState is one virtual disk: its descriptor chain, base first, newest (writable) last.
type diskState struct {
	unit     int32
	chain    []dsPath
	capacity int64
	// base is the snapshot level at which the disk was added (ReconfigVM_Task, reconfig.go): the
	// snapshots taken before it do not hold it, so chain[i] is at level base+i.
	base int
	// cbt is the disk's changed block tracking (cbt.go).
	cbt cbtTrack
}

func (d *diskState) top() dsPath { return d.chain[len(d.chain)-1] }

// snapRec maps a snapshot to the delta level it created (1 = first delta above the base).
type snapRec struct {
	ref   types.ManagedObjectReference
	name  string
	vmsn  string
	level int
	// cbt is the change tracking point per device key the snapshot froze (cbt.go); nil without tracking.
	cbt map[int32]cbtMark
}

// vmState is the launcher's view of a registered VM's files and guest activity.
type vmState struct {
	l   *Launcher
	ref types.ManagedObjectReference

	// mu guards the disk files: the writer holds it per write, file operations
	// (snapshot, merge, move, suspend) hold it for their duration; GETs of a
	// writable file hold it for reading.
	mu        sync.RWMutex
	name      string
	vmx       dsPath
	host      string
	seed      uint64
	memoryMiB int64
	disks     []*diskState
	snaps     []snapRec
	counter   uint64
	running   bool
	specName  string

	rate    atomic.Int64
	stop    chan struct{}
	wg      sync.WaitGroup
	hbTimer *time.Timer

	// guest behaviour, from the .vmx's lab keys (quickmig.tools, quickmig.ignoreShutdown)
	noTools        bool
	ignoreShutdown bool
	// shutdownAction is what the guest OS does on ShutdownGuest (control API /guest/shutdown-action):
	// "" or "halt" powers off, "ignore", "restart" (reboots instead of halting), "hang" (Tools stop
	// responding mid-shutdown and the VM stays on).
	shutdownAction string
	phase          guestPhase
	powerGen       uint64 // bumped on every power transition; stale timers compare it

	question    *pendingQuestion
	questionSeq int
	busy        *types.ManagedObjectReference // the mutating task running on this VM

	// locked lists the files a running VM holds (descriptor and extent of each chain's top), kept
	// by syncVM and read without vs.mu, so a /folder GET never waits for a long file operation.
	locked atomic.Pointer[[]dsPath]
}

func (vs *vmState) home() dsPath { return vs.vmx.Dir() }

// startRunning starts the guest writer (idempotent).
func (vs *vmState) startRunning() {
	vs.mu.Lock()
	defer vs.mu.Unlock()
	if vs.running {
		return
	}
	vs.running = true
	vs.stop = make(chan struct{})
	vs.wg.Add(1)
	go vs.writerLoop(vs.stop)
}

// stopRunning stops the guest writer and waits for it (idempotent).
func (vs *vmState) stopRunning() {
	vs.mu.Lock()
	if !vs.running {
		vs.mu.Unlock()
		return
	}
	vs.running = false
	close(vs.stop)
	if vs.hbTimer != nil {
		vs.hbTimer.Stop()
	}
	vs.mu.Unlock()
	vs.wg.Wait()
}

func (vs *vmState) isRunning() bool {
	vs.mu.RLock()
	defer vs.mu.RUnlock()
	return vs.running
}

const writerTick = 100 * time.Millisecond

func (vs *vmState) writerLoop(stop chan struct{}) {
	defer vs.wg.Done()
	t := time.NewTicker(writerTick)
	defer t.Stop()
	var budget float64
	for {
		select {
		case <-stop:
			return
		case <-t.C:
		}
		rate := vs.rate.Load()
		if rate <= 0 {
			budget = 0
			continue
		}
		budget += float64(rate) * writerTick.Seconds()
		blocks := int(budget / blockSize)
		if blocks == 0 {
			continue
		}
		budget -= float64(blocks * blockSize)
		for range blocks {
			select {
			case <-stop:
				return
			default:
			}
			if err := vs.writeNextBlock(); err != nil {
				vs.l.logf("guest writer %s: %v", vs.name, err)
				break
			}
		}
	}
}

// writeNextBlock writes one deterministic 4 KiB block, disks in round robin.
func (vs *vmState) writeNextBlock() error {
	vs.mu.Lock()
	defer vs.mu.Unlock()
	if !vs.running || len(vs.disks) == 0 {
		return nil
	}
	n := vs.counter
	vs.counter++
	di := int(n % uint64(len(vs.disks)))
	d := vs.disks[di]
	blocks := d.capacity / blockSize
	if blocks == 0 {
		return nil
	}
	off := int64(mix(vs.seed, uint64(di), n, 0x5772) % uint64(blocks) * blockSize)
	data := make([]byte, blockSize)
	fillPRNG(data, mix(vs.seed, uint64(di), n, 0xda7a))
	return vs.writeLocked(di, off, data)
}

// writeLocked writes data at off into the current writable file of disk di; vs.mu must be held.
func (vs *vmState) writeLocked(di int, off int64, data []byte) error {
	if di < 0 || di >= len(vs.disks) {
		return fmt.Errorf("no disk %d", di)
	}
	d := vs.disks[di]
	if off < 0 || off+int64(len(data)) > d.capacity {
		return fmt.Errorf("write [%d,+%d) beyond capacity %d", off, len(data), d.capacity)
	}
	ext, delta, err := vs.l.extentOf(d.top())
	if err != nil {
		return err
	}
	f, err := os.OpenFile(ext, os.O_RDWR, 0)
	if err != nil {
		return err
	}
	defer f.Close()
	d.noteWrite(off, int64(len(data)))
	if delta {
		return appendDelta(f, off, data)
	}
	_, err = f.WriteAt(data, off)
	return err
}
