package main

import (
	"context"
	"io"
	"os"
	"sync"
	"time"
)

// pacer is a shared byte-rate limit (one per datastore direction and per host link): every user
// reserves its bytes on one virtual timeline, so concurrent users share the rate rather than
// each getting it whole. A nil pacer or a zero rate does not pace.
type pacer struct {
	mu   sync.Mutex
	rate float64 // bytes per second
	next time.Time
}

func newPacer(bytesPerSec float64) *pacer {
	if bytesPerSec <= 0 {
		return nil
	}
	return &pacer{rate: bytesPerSec}
}

// burst is how far the timeline may lag behind now: an idle pacer lets this much through at once.
const burst = 20 * time.Millisecond

// reserve books n bytes and returns when they are through.
func (p *pacer) reserve(n int64) time.Time {
	now := time.Now()
	if p == nil || n <= 0 {
		return now
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.next.Before(now.Add(-burst)) {
		p.next = now.Add(-burst)
	}
	p.next = p.next.Add(time.Duration(float64(n) / p.rate * float64(time.Second)))
	return p.next
}

// paceChunk is the unit in which streams reserve, so concurrent streams interleave.
const paceChunk = 256 << 10

// wait books n bytes on every pacer and sleeps until the slowest is through (ctx may end it early).
func wait(ctx context.Context, n int64, ps ...*pacer) error {
	var until time.Time
	for _, p := range ps {
		if t := p.reserve(n); t.After(until) {
			until = t
		}
	}
	d := time.Until(until)
	if d <= 0 {
		return nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// paceBytes books n bytes in chunks (so a long transfer shares the rate with others as it goes).
func paceBytes(n int64, ps ...*pacer) {
	for n > 0 {
		c := min(n, paceChunk)
		_ = wait(context.Background(), c, ps...)
		n -= c
	}
}

// pacedWriter paces what is written through it.
type pacedWriter struct {
	w   io.Writer
	ctx context.Context
	ps  []*pacer
}

func (w *pacedWriter) Write(b []byte) (int, error) {
	done := 0
	for done < len(b) {
		c := min(len(b)-done, paceChunk)
		if err := wait(w.ctx, int64(c), w.ps...); err != nil {
			return done, err
		}
		n, err := w.w.Write(b[done : done+c])
		done += n
		if err != nil {
			return done, err
		}
	}
	return done, nil
}

// pacedReader paces what is read through it.
type pacedReader struct {
	r   io.Reader
	ctx context.Context
	ps  []*pacer
}

func (r *pacedReader) Read(b []byte) (int, error) {
	if len(b) > paceChunk {
		b = b[:paceChunk]
	}
	n, err := r.r.Read(b)
	if n > 0 {
		if werr := wait(r.ctx, int64(n), r.ps...); werr != nil {
			return n, werr
		}
	}
	return n, err
}

// semaphore caps concurrent /folder streams through a host; the next one waits, as NFC does.
type semaphore chan struct{}

func (s semaphore) acquire(ctx context.Context) error {
	select {
	case s <- struct{}{}:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
func (s semaphore) release() { <-s }

// rates is the launcher's set of pacers and stream caps, built from the spec.
type rates struct {
	dsRead, dsWrite map[string]*pacer
	link            map[string]*pacer
	streams         map[string]semaphore
	// demand counts the streams through each host, waiting or moving (streams.go).
	demand *streamGauge
}

func newRates(s *Spec) *rates {
	r := &rates{dsRead: map[string]*pacer{}, dsWrite: map[string]*pacer{}, link: map[string]*pacer{}, streams: map[string]semaphore{}, demand: newStreamGauge()}
	for _, d := range s.Datastores {
		r.dsRead[d.Name] = newPacer(*d.ReadMBps * 1e6)
		r.dsWrite[d.Name] = newPacer(*d.WriteMBps * 1e6)
	}
	for _, h := range s.Hosts {
		r.link[h.Name] = newPacer(*h.LinkGbps * 1e9 / 8)
		r.streams[h.Name] = make(semaphore, h.MaxFolderStreams)
	}
	return r
}

// copyFilePaced copies a file from one datastore to another at their read and write rates.
func (l *Launcher) copyFilePaced(from, to, fromDS, toDS string) error {
	src, err := os.Open(from)
	if err != nil {
		return err
	}
	defer src.Close()
	dst, err := os.Create(to)
	if err != nil {
		return err
	}
	pr := &pacedReader{r: src, ctx: context.Background(), ps: []*pacer{l.rates.dsRead[fromDS], l.rates.dsWrite[toDS]}}
	if _, err := io.Copy(dst, pr); err != nil {
		dst.Close()
		return err
	}
	return dst.Close()
}
