package main

import (
	"crypto/subtle"
	"io"
	"net/http"
	"os"
	"path"
	"path/filepath"
	"strings"

	"github.com/vmware/govmomi/vim25/soap"
)

// authorized: the user of a logged-in session cookie, or of HTTP basic auth with the spec credentials
// or a user's.
func (l *Launcher) authorized(r *http.Request) (string, bool) {
	if c, err := r.Cookie(soap.SessionCookieName); err == nil {
		if user, ok := l.userOfSession(c.Value); ok && l.sessionLive(c.Value) {
			return user, true
		}
		l.rf.refused.Add(1) // realfaults.go: an expired or unknown session
	}
	if u, p, ok := r.BasicAuth(); ok {
		if subtle.ConstantTimeCompare([]byte(u), []byte(l.spec.Username)) == 1 &&
			subtle.ConstantTimeCompare([]byte(p), []byte(l.spec.Password)) == 1 {
			return u, true
		}
		if l.authz != nil && l.authz.login(u, p) {
			return u, true
		}
	}
	return "", false
}

// folderPrivilege is what a /folder request needs on the datastore: Datastore.Browse to read,
// Datastore.FileManagement to write or delete (vSphere Web Services SDK Programming Guide, "Privilege
// Requirements for HTTP Access").
func folderPrivilege(method string) string {
	if method == http.MethodGet || method == http.MethodHead {
		return "Datastore.Browse"
	}
	return "Datastore.FileManagement"
}

// serveFolder is the datastore HTTP file API (/folder/<path>?dcPath=..&dsName=..).
func (l *Launcher) serveFolder(w http.ResponseWriter, r *http.Request, mux *http.ServeMux) {
	user, ok := l.authorized(r)
	if !ok {
		w.Header().Set("WWW-Authenticate", `Basic realm="VMware HTTP server"`)
		http.Error(w, "401 Unauthorized", http.StatusUnauthorized)
		return
	}
	dsName := r.URL.Query().Get("dsName")
	dir, ok := l.dsDirs[dsName]
	if !ok {
		http.Error(w, "datastore not found", http.StatusNotFound)
		return
	}
	if priv := folderPrivilege(r.Method); !l.authz.has(l.bgCtx(), user, priv, l.dsRefs[dsName]) {
		// A host answers a request its user may not make with 403 Forbidden (a missing or bad login
		// is 401); the body names what is missing.
		if r.Method == http.MethodPut || r.Method == http.MethodDelete {
			l.calls.add("HTTP "+r.Method, "["+dsName+"] "+strings.TrimPrefix(strings.TrimPrefix(r.URL.Path, "/folder"), "/"), false, "NoPermission")
		}
		http.Error(w, "403 Forbidden: permission "+priv+" on datastore "+dsName+" denied", http.StatusForbidden)
		return
	}
	rel := strings.TrimPrefix(r.URL.Path, "/folder")
	rel = strings.TrimPrefix(rel, "/")
	if strings.Contains(rel, "..") {
		http.Error(w, "bad path", http.StatusBadRequest)
		return
	}
	local := filepath.Join(dir, filepath.FromSlash(rel))
	dsp := dsPath{dsName, rel}
	if r.Method == http.MethodGet || r.Method == http.MethodPut || r.Method == http.MethodHead {
		if r.Method == http.MethodGet && l.lockedByRunningVM(dsp) {
			// ESXi refuses a file a running VM holds open for writing ("Failed to lock the file",
			// error 16392, FileLocked); the read-only base of a snapshotted disk stays readable.
			http.Error(w, "Unable to access file "+dsp.String()+" since it is locked (Failed to lock the file)", http.StatusInternalServerError)
			return
		}
		// NFC-like limits: at most maxFolderStreams streams per host (the next waits), and every
		// byte paced by the host link and the datastore.
		host := l.folderHost(dsName)
		defer l.rates.demand.enter(host)()
		if sem, ok := l.rates.streams[host]; ok {
			if err := sem.acquire(r.Context()); err != nil {
				return
			}
			defer sem.release()
		}
		if r.Method == http.MethodPut {
			r.Body = io.NopCloser(&pacedReader{r: r.Body, ctx: r.Context(), ps: []*pacer{l.rates.link[host], l.rates.dsWrite[dsName]}})
		} else {
			w = &pacedResponse{ResponseWriter: w, pw: &pacedWriter{w: w, ctx: r.Context(), ps: []*pacer{l.rates.link[host], l.rates.dsRead[dsName]}}}
		}
	}
	switch r.Method {
	case http.MethodPut:
		_, statErr := os.Stat(local)
		existed := statErr == nil
		if r.ContentLength > 0 && r.ContentLength > l.freeSpace(dsName) {
			l.calls.add("HTTP PUT", dsp.String(), false, "InsufficientStorage")
			http.Error(w, "insufficient space on datastore", http.StatusInsufficientStorage)
			return
		}
		if err := os.MkdirAll(filepath.Dir(local), 0o755); err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		f, err := os.Create(local)
		if err == nil {
			_, err = l.copyWithinSpace(f, r.Body, dsName, local)
			if cerr := f.Close(); err == nil {
				err = cerr
			}
		}
		if err != nil {
			l.calls.add("HTTP PUT", dsp.String(), false, "SystemError")
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		l.calls.add("HTTP PUT", dsp.String(), true, "")
		go l.refreshAllSpace()
		if existed {
			w.WriteHeader(http.StatusOK)
		} else {
			w.WriteHeader(http.StatusCreated)
		}
	case http.MethodDelete:
		if err := os.Remove(local); err != nil {
			l.calls.add("HTTP DELETE", dsp.String(), false, "FileNotFound")
			http.Error(w, "not found", http.StatusNotFound)
			return
		}
		l.calls.add("HTTP DELETE", dsp.String(), true, "")
		go l.refreshAllSpace()
		w.WriteHeader(http.StatusNoContent)
	case http.MethodGet, http.MethodHead:
		// No VM lock is held while a file streams: a slow reader must never stall the guest, a
		// suspend or other requests (a pending writer would queue every later reader behind it).
		// The file a running guest writes into was refused above (locked), checked at the start.
		fi, err := os.Stat(local)
		if err != nil || fi.IsDir() {
			http.Error(w, "not found", http.StatusNotFound)
			return
		}
		f, err := os.Open(local)
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		defer f.Close()
		w.Header().Set("Content-Type", "application/octet-stream")
		http.ServeContent(w, r, path.Base(rel), fi.ModTime(), f)
	default:
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
	}
}

// pacedResponse paces a response body.
type pacedResponse struct {
	http.ResponseWriter
	pw *pacedWriter
}

func (p *pacedResponse) Write(b []byte) (int, error) { return p.pw.Write(b) }

// folderHost is the host whose link carries /folder traffic for a datastore: the first host that
// mounts it (an ESXi endpoint has one; a vCenter hands the transfer to a host).
func (l *Launcher) folderHost(ds string) string {
	for _, h := range l.spec.Hosts {
		for _, d := range h.Datastores {
			if d == ds {
				return h.Name
			}
		}
	}
	return ""
}

// lockedByRunningVM: the file is the descriptor or extent of the writable top of a disk chain
// of a VM that is powered on (its vmx process holds it open exclusively).
func (l *Launcher) lockedByRunningVM(p dsPath) bool {
	for _, vs := range l.allVMs() {
		if files := vs.locked.Load(); files != nil {
			for _, f := range *files {
				if f == p {
					return true
				}
			}
		}
	}
	return false
}
