package main

import (
	"context"
	"crypto/tls"
	"fmt"
	"log"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/vmware/govmomi/simulator"
	"github.com/vmware/govmomi/vim25"
	"github.com/vmware/govmomi/vim25/types"
)

// Launcher owns one simulated endpoint: the vcsim model, the HTTPS server and the lab behaviour.
type Launcher struct {
	spec   *Spec
	model  *simulator.Model
	reg    *simulator.Registry
	client *vim25.Client

	dcRef    types.ManagedObjectReference
	vmFolder types.ManagedObjectReference
	hostRefs map[string]types.ManagedObjectReference
	dsRefs   map[string]types.ManagedObjectReference
	dsDirs   map[string]string

	mu  sync.Mutex
	vms map[string]*vmState // by moref value

	rates    *rates
	taskSeq  atomic.Int64
	calls    *callLog
	faults   *faultRules
	outage   outage
	sessions sync.Map   // vmware_soap_session cookie value (the session key) -> user name
	authz    *authz     // users and permissions (privileges.go)
	rf       realFaults // realfaults.go
	// cbtSnapshots holds the snapshot morefs taken with change tracking on (thin.go).
	cbtSnapshots sync.Map
	// cbtEpochs counts the change tracking epochs started (cbt.go).
	cbtEpochs atomic.Uint64
	// wrapperRegistries holds the session registries dispatch placed a wrapper in, so that a VM
	// unregistered or destroyed leaves them all (sessionRegistries in dispatch.go).
	wrapperRegistries sync.Map // *simulator.Registry → struct{}

	inner    *simulator.Server
	srv      *http.Server
	ln       net.Listener
	URL      string
	CertFile string
	Thumb    string

	journalMu sync.Mutex
	bgSession *simulator.Session
	removed   map[string]bool // spec VM names unregistered/destroyed
	stopOnce  sync.Once
	done      chan struct{}
}

type internalKey struct{}

// NewLauncher builds the inventory and starts serving; it does not print the ready line.
func NewLauncher(spec *Spec) (*Launcher, error) {
	l := &Launcher{
		spec: spec, hostRefs: map[string]types.ManagedObjectReference{},
		dsRefs: map[string]types.ManagedObjectReference{}, dsDirs: map[string]string{},
		vms: map[string]*vmState{}, calls: &callLog{}, faults: &faultRules{},
		removed: map[string]bool{}, done: make(chan struct{}), rates: newRates(spec),
	}
	if err := os.MkdirAll(spec.StateDir, 0o700); err != nil {
		return nil, err
	}
	// bind first: a busy port fails before anything is created or changed
	ln, err := net.Listen("tcp", spec.Listen)
	if err != nil {
		return nil, fmt.Errorf("listen %s: %w", spec.Listen, err)
	}
	l.ln = ln
	ctx := l.internalCtx()
	if err := l.buildModel(ctx); err != nil {
		ln.Close()
		return nil, fmt.Errorf("build inventory: %w", err)
	}
	cert, err := loadOrCreateCert(spec.StateDir, spec.Name)
	if err != nil {
		ln.Close()
		return nil, fmt.Errorf("tls: %w", err)
	}
	l.CertFile = filepath.Join(spec.StateDir, "cert.pem")
	l.Thumb = thumbprint(cert.Certificate[0])

	svc := l.model.Service
	svc.Listen = &url.URL{Host: "127.0.0.1:0", User: url.UserPassword(spec.Username, spec.Password)}
	l.inner = svc.NewServer()
	l.reg.SessionManager().ServiceHostName = spec.Listen
	l.reg.Handler = l.dispatch
	l.bgCtx()

	if err := l.loadInventory(); err != nil {
		ln.Close()
		l.Stop()
		return nil, err
	}
	if err := l.resolvePermissions(); err != nil {
		ln.Close()
		l.Stop()
		return nil, err
	}
	l.URL = "https://" + ln.Addr().String() + "/sdk"
	l.srv = &http.Server{
		Handler:      l.routes(svc.ServeMux),
		TLSConfig:    &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12},
		TLSNextProto: map[string]func(*http.Server, *tls.Conn, http.Handler){}, // HTTP/1.1 only, as ESXi
		ErrorLog:     log.New(os.Stderr, "http: ", log.LstdFlags),
		ConnState:    l.outage.track,
		ConnContext:  connContext,
	}
	go func() {
		if err := l.srv.ServeTLS(ln, "", ""); err != nil && err != http.ErrServerClosed {
			log.Printf("serve: %v", err)
		}
	}()
	go l.spaceLoop()
	return l, nil
}

// internalCtx is a context for in-process SOAP calls that bypass the lab's overrides and call log.
func (l *Launcher) internalCtx() context.Context {
	return context.WithValue(context.Background(), internalKey{}, true)
}

// bgCtx is a simulator context for background updates (writer, heartbeat, space refresh).
func (l *Launcher) bgCtx() *simulator.Context {
	if l.bgSession == nil {
		l.bgSession = &simulator.Session{UserSession: types.UserSession{Key: "quickmig-lab", UserName: l.spec.Username, FullName: "quickmig lab"}, Registry: simulator.NewRegistry(), Map: l.reg}
	}
	return &simulator.Context{Context: context.Background(), Map: l.reg, Session: l.bgSession}
}

// Stop stops guest writers, flushes the journal and shuts the server down.
func (l *Launcher) Stop() {
	l.stopOnce.Do(func() {
		close(l.done)
		l.mu.Lock()
		vms := make([]*vmState, 0, len(l.vms))
		for _, vs := range l.vms {
			vms = append(vms, vs)
		}
		l.mu.Unlock()
		for _, vs := range vms {
			vs.stopRunning()
		}
		l.saveJournal()
		if l.srv != nil {
			ctx, cancel := context.WithTimeout(context.Background(), time.Second)
			_ = l.srv.Shutdown(ctx)
			cancel()
			_ = l.srv.Close()
		}
		if l.inner != nil {
			l.inner.Close()
		}
	})
}

func (l *Launcher) vmByRef(ref string) *vmState {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.vms[ref]
}

func (l *Launcher) vmByName(s string) *vmState {
	l.mu.Lock()
	defer l.mu.Unlock()
	if vs, ok := l.vms[s]; ok {
		return vs
	}
	for _, vs := range l.vms {
		if vs.name == s {
			return vs
		}
	}
	return nil
}

func (l *Launcher) vmByVMX(p string) *vmState {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, vs := range l.vms {
		if vs.vmx.String() == p {
			return vs
		}
	}
	return nil
}

func (l *Launcher) allVMs() []*vmState {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := make([]*vmState, 0, len(l.vms))
	for _, vs := range l.vms {
		out = append(out, vs)
	}
	return out
}

// local resolves a datastore path to the local file system.
func (l *Launcher) local(p dsPath) (string, bool) {
	dir, ok := l.dsDirs[p.DS]
	if !ok {
		return "", false
	}
	return filepath.Join(dir, filepath.FromSlash(p.Path)), true
}

func (l *Launcher) mustLocal(p dsPath) string {
	s, _ := l.local(p)
	return s
}
