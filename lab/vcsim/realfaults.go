package main

// Real-host faults of the data path and of sessions (lab/vcsim/README.md "Real-host faults: data
// path and sessions"): a connection cut in the middle of a PUT, a datastore that another writer
// fills while a PUT streams, and sessions that expire after an idle timeout.

import (
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/vmware/govmomi/vim25/soap"
	"github.com/vmware/govmomi/vim25/types"
)

// sessionTimeoutKey is the option that sets the idle timeout of API sessions: vcsim's
// SessionIdleWatch reads it as a Go duration (ESXi's Config.HostAgent.vmacore.soap.sessionTimeout).
const sessionTimeoutKey = "config.vmacore.soap.sessionTimeout"

// otherWriterDir holds the files of "another writer" on a datastore (POST /datastores/fill).
const otherWriterDir = ".quickmig-other-writer"

// realFaults is the state of this file's behaviours, one per launcher.
type realFaults struct {
	idleTimeout atomic.Int64 // ns; 0: sessions never expire
	logins      atomic.Int64 // successful Login calls
	refused     atomic.Int64 // /folder requests refused with 401 for an expired session
	fillSeq     atomic.Int64
	putBytes    sync.Map // "[ds] path" → *atomic.Int64: body bytes every PUT of the file wrote
	uses        sync.Map // session cookie → sessionUse
	fillMu      sync.Mutex
}

// --- sessions ------------------------------------------------------------------------------------

// noteSOAP follows the API sessions after every SOAP call (their users are in l.sessions, see
// afterSOAP): a Login starts one, a call with a live session's cookie is activity of that session (it
// resets the idle clock, as vcsim's mapSession does), a Logout ends it; an idle one ends when it is next
// used (sessionLive).
func (l *Launcher) noteSOAP(r *http.Request, rec *recordWriter, method string) {
	if method == "Login" && rec.status == 200 {
		l.rf.logins.Add(1)
		for _, c := range (&http.Response{Header: rec.Header()}).Cookies() {
			if c.Name == soap.SessionCookieName {
				l.rf.uses.Store(c.Value, sessionUse{time.Now(), l.rf.idleTimeout.Load() > 0})
			}
		}
		return
	}
	c, err := r.Cookie(soap.SessionCookieName)
	if err != nil {
		return
	}
	switch {
	case method == "Logout":
		l.rf.uses.Delete(c.Value)
	case l.sessionLive(c.Value):
		if v, ok := l.rf.uses.Load(c.Value); ok {
			l.rf.uses.Store(c.Value, sessionUse{time.Now(), v.(sessionUse).watched})
		}
	}
}

// sessionUse is what the launcher knows of a session's activity: its last API call, and whether it is
// watched for idleness (vcsim watches the sessions logged in while a timeout is set, from their Login).
type sessionUse struct {
	last    time.Time
	watched bool
}

// sessionLive: the cookie's session has not been idle longer than the timeout (a session the launcher
// did not see log in is left to l.sessions). A /folder request authenticates with it when it starts; it
// is not activity of the session (only API calls are), and an expired session does not cut a stream
// that started before. An expired session is forgotten.
func (l *Launcher) sessionLive(cookie string) bool {
	v, ok := l.rf.uses.Load(cookie)
	if !ok {
		return true
	}
	timeout := time.Duration(l.rf.idleTimeout.Load())
	if use := v.(sessionUse); use.watched && timeout > 0 && time.Since(use.last) > timeout {
		l.rf.uses.Delete(cookie)
		l.sessions.Delete(cookie)
		return false
	}
	return true
}

// setSessionTimeout sets the idle timeout of the sessions logged in from now on (vcsim watches a
// session from its Login), in the OptionManager as an administrator would with UpdateOptions.
func (l *Launcher) setSessionTimeout(d time.Duration) {
	om := l.reg.OptionManager()
	l.reg.WithLock(l.bgCtx(), om, func() {
		om.UpdateOptions(&types.UpdateOptions{ChangedValue: []types.BaseOptionValue{
			&types.OptionValue{Key: sessionTimeoutKey, Value: d.String()},
		}})
	})
	l.rf.idleTimeout.Store(int64(d))
}

// --- a connection cut in the middle of a PUT ---------------------------------------------------

// resetBody reads `after` bytes of a request body, then resets the connection (TCP RST) as a host or
// a network device that drops it would: the client's upload fails with ECONNRESET or EPIPE.
func resetBody(w http.ResponseWriter, body io.ReadCloser, after int64) io.ReadCloser {
	return &resetReader{ReadCloser: body, w: w, left: after}
}

type resetReader struct {
	io.ReadCloser
	w    http.ResponseWriter
	left int64
	cut  bool
}

func (r *resetReader) Read(b []byte) (int, error) {
	if r.cut {
		return 0, io.ErrUnexpectedEOF
	}
	if r.left <= 0 {
		r.cut = true
		if hj, ok := r.w.(http.Hijacker); ok {
			if conn, _, err := hj.Hijack(); err == nil {
				if tc, ok := conn.(interface{ NetConn() net.Conn }); ok {
					if tcp, ok := tc.NetConn().(*net.TCPConn); ok {
						_ = tcp.SetLinger(0)
					}
				}
				_ = conn.Close()
			}
		}
		return 0, io.ErrUnexpectedEOF
	}
	if int64(len(b)) > r.left {
		b = b[:r.left]
	}
	n, err := r.ReadCloser.Read(b)
	r.left -= int64(n)
	return n, err
}

// --- a datastore that fills while a PUT streams -------------------------------------------------

// copyWithinSpace writes a PUT body into `f` (the file `local` of datastore `ds`) while the datastore
// has room: the bytes of the other files (other writers included) plus this file's must stay within
// the capacity. The write that does not fit fails with ENOSPC ("no space left on device") after the
// bytes that fit, which stay in the file, as a VMFS write that runs out of blocks does.
func (l *Launcher) copyWithinSpace(f *os.File, body io.Reader, ds, local string) (int64, error) {
	d := l.spec.datastore(ds)
	if d == nil {
		return io.Copy(f, body)
	}
	rel, _ := filepath.Rel(d.Path, local)
	counter, _ := l.rf.putBytes.LoadOrStore("["+ds+"] "+filepath.ToSlash(rel), new(atomic.Int64))
	total := counter.(*atomic.Int64)
	capacity := d.CapacityMiB << 20
	others := func() int64 {
		used := dirUsage(d.Path)
		if fi, err := f.Stat(); err == nil {
			used -= allocated(fi)
		}
		return used
	}
	used, checked := others(), time.Now()
	buf := make([]byte, 1<<20)
	var written int64
	for {
		n, rerr := body.Read(buf)
		if n > 0 {
			if time.Since(checked) > 100*time.Millisecond {
				used, checked = others(), time.Now()
			}
			fits := max(min(int64(n), capacity-used-written), 0)
			m, werr := f.Write(buf[:fits])
			written += int64(m)
			total.Add(int64(m))
			if werr != nil {
				return written, werr
			}
			if fits < int64(n) {
				return written, fmt.Errorf("write %s: %w", filepath.Base(local), syscall.ENOSPC)
			}
		}
		if rerr == io.EOF {
			return written, nil
		}
		if rerr != nil {
			return written, rerr
		}
	}
}

// fillDatastore is another writer: it writes up to `bytes` zero bytes (allocated, not sparse) into a
// file of its own on the datastore, and stops where the datastore is full, as any writer would.
func (l *Launcher) fillDatastore(ds string, bytes int64) (written int64, path string, err error) {
	d := l.spec.datastore(ds)
	if d == nil {
		return 0, "", fmt.Errorf("no datastore %q", ds)
	}
	l.rf.fillMu.Lock()
	defer l.rf.fillMu.Unlock()
	dir := filepath.Join(d.Path, otherWriterDir)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return 0, "", err
	}
	rel := fmt.Sprintf("%s/fill-%d.bin", otherWriterDir, l.rf.fillSeq.Add(1))
	f, err := os.Create(filepath.Join(d.Path, filepath.FromSlash(rel)))
	if err != nil {
		return 0, "", err
	}
	defer f.Close()
	room := max((d.CapacityMiB<<20)-dirUsage(d.Path), 0)
	zero := make([]byte, 1<<20)
	for written < min(bytes, room) {
		n, werr := f.Write(zero[:min(int64(len(zero)), min(bytes, room)-written)])
		written += int64(n)
		if werr != nil {
			return written, rel, werr
		}
	}
	if err := f.Sync(); err != nil {
		return written, rel, err
	}
	go l.refreshAllSpace()
	return written, rel, nil
}

// --- control API ----------------------------------------------------------------------------------

// serveRealFaults answers this file's control routes; false when the route is not one of them.
func (l *Launcher) serveRealFaults(w http.ResponseWriter, r *http.Request, route string) bool {
	switch route {
	case "POST /sessions/timeout":
		var req struct {
			Timeout string `json:"timeout"`
		}
		d, err := time.Duration(0), json.NewDecoder(r.Body).Decode(&req)
		if err == nil {
			d, err = time.ParseDuration(req.Timeout)
		}
		if err != nil || d <= 0 {
			writeJSON(w, 400, map[string]string{"error": "timeout: a positive Go duration, e.g. \"5s\""})
			return true
		}
		l.setSessionTimeout(d)
		writeJSON(w, 200, map[string]string{"key": sessionTimeoutKey, "value": d.String()})
	case "GET /sessions":
		writeJSON(w, 200, map[string]any{
			"timeout":               time.Duration(l.rf.idleTimeout.Load()).String(),
			"logins":                l.rf.logins.Load(),
			"refusedFolderRequests": l.rf.refused.Load(),
		})
	case "POST /datastores/fill":
		var req struct {
			Datastore string `json:"datastore"`
			Bytes     int64  `json:"bytes"`
		}
		if err := json.NewDecoder(r.Body).Decode(&req); err != nil || req.Bytes <= 0 {
			writeJSON(w, 400, map[string]string{"error": "datastore and bytes (> 0) are required"})
			return true
		}
		written, path, err := l.fillDatastore(req.Datastore, req.Bytes)
		if err != nil {
			writeJSON(w, 400, map[string]string{"error": err.Error()})
			return true
		}
		writeJSON(w, 200, map[string]any{
			"path": path, "bytes": written, "freeBytes": l.freeSpace(req.Datastore),
		})
	case "DELETE /datastores/fill":
		for _, d := range l.spec.Datastores {
			_ = os.RemoveAll(filepath.Join(d.Path, otherWriterDir))
		}
		go l.refreshAllSpace()
		writeJSON(w, 200, map[string]bool{"ok": true})
	case "GET /puts":
		out := map[string]int64{}
		l.rf.putBytes.Range(func(k, v any) bool {
			out[k.(string)] = v.(*atomic.Int64).Load()
			return true
		})
		writeJSON(w, 200, out)
	case "GET /datastores/free":
		out := map[string]int64{}
		for _, d := range l.spec.Datastores {
			out[d.Name] = l.freeSpace(d.Name)
		}
		writeJSON(w, 200, out)
	default:
		return false
	}
	return true
}
