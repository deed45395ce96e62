package main

import "fmt"

// GuestTimes are how long a guest takes; nil fields take the profile's default.
type GuestTimes struct {
	// BootSec: power-on until the guest heartbeat is green (realistic 40, quick 1).
	BootSec *float64 `json:"bootSec,omitempty"`
	// ResumeSec: resume until the heartbeat is green again (realistic 2, quick 0.5).
	ResumeSec *float64 `json:"resumeSec,omitempty"`
	// ShutdownSec: ShutdownGuest until the power state is poweredOff (realistic 20, quick 1).
	ShutdownSec *float64 `json:"shutdownSec,omitempty"`
}

// profileDefaults are the values a profile gives every field the spec leaves out.
type profileDefaults struct {
	suspendScale                    int64
	bootSec, resumeSec, shutdownSec float64
	vmfsMBps, nfsMBps               float64 // read = write; 0 = unpaced
	linkGbps                        float64
	maxStreams                      int
}

// The realistic profile is the default: every figure measured on the lab is a product figure only
// with it. Sources are listed in README.md ("Real-host behaviours and their defaults").
var profiles = map[string]profileDefaults{
	"realistic": {suspendScale: 1, bootSec: 40, resumeSec: 2, shutdownSec: 20, vmfsMBps: 400, nfsMBps: 150, linkGbps: 10, maxStreams: 8},
	// quick is for unit-level tests whose behaviour does not depend on time: nothing is paced.
	"quick": {suspendScale: 1024, bootSec: 1, resumeSec: 0.5, shutdownSec: 1, vmfsMBps: 0, nfsMBps: 0, linkGbps: 0, maxStreams: 8},
}

func f64(v float64) *float64 { return &v }

// applyProfile fills every time and rate the spec leaves out from its profile and validates them.
func (s *Spec) applyProfile() error {
	if s.Profile == "" {
		s.Profile = "realistic"
	}
	p, ok := profiles[s.Profile]
	if !ok {
		return fmt.Errorf("spec: profile must be realistic or quick, got %q", s.Profile)
	}
	if s.SuspendScale < 0 {
		return fmt.Errorf("spec: suspendScale must be at least 1, got %d", s.SuspendScale)
	}
	if s.SuspendScale == 0 {
		s.SuspendScale = p.suspendScale
	}
	fill := func(v **float64, def float64, field string) error {
		if *v == nil {
			*v = f64(def)
		}
		if **v < 0 {
			return fmt.Errorf("spec: %s must not be negative, got %v", field, **v)
		}
		return nil
	}
	if err := fill(&s.Guest.BootSec, p.bootSec, "guest.bootSec"); err != nil {
		return err
	}
	if err := fill(&s.Guest.ResumeSec, p.resumeSec, "guest.resumeSec"); err != nil {
		return err
	}
	if err := fill(&s.Guest.ShutdownSec, p.shutdownSec, "guest.shutdownSec"); err != nil {
		return err
	}
	for i := range s.Datastores {
		d := &s.Datastores[i]
		def := p.vmfsMBps
		if d.Type == "nfs" {
			def = p.nfsMBps
		}
		if err := fill(&d.ReadMBps, def, "datastores."+d.Name+".readMBps"); err != nil {
			return err
		}
		if err := fill(&d.WriteMBps, def, "datastores."+d.Name+".writeMBps"); err != nil {
			return err
		}
	}
	for i := range s.Hosts {
		h := &s.Hosts[i]
		if err := fill(&h.LinkGbps, p.linkGbps, "hosts."+h.Name+".linkGbps"); err != nil {
			return err
		}
		if h.MaxFolderStreams < 0 {
			return fmt.Errorf("spec: hosts.%s.maxFolderStreams must be at least 1, got %d", h.Name, h.MaxFolderStreams)
		}
		if h.MaxFolderStreams == 0 {
			h.MaxFolderStreams = p.maxStreams
		}
	}
	return nil
}

// EffectiveProfile is what GET /quickmig/profile answers: every time and rate in force, so a
// figure measured on the lab can name the conditions it was measured under.
type EffectiveProfile struct {
	Profile      string  `json:"profile"`
	SuspendScale int64   `json:"suspendScale"`
	BootSec      float64 `json:"bootSec"`
	ResumeSec    float64 `json:"resumeSec"`
	ShutdownSec  float64 `json:"shutdownSec"`
	Datastores   []struct {
		Name      string  `json:"name"`
		Type      string  `json:"type"`
		ReadMBps  float64 `json:"readMBps"`
		WriteMBps float64 `json:"writeMBps"`
	} `json:"datastores"`
	Hosts []struct {
		Name             string  `json:"name"`
		LinkGbps         float64 `json:"linkGbps"`
		MaxFolderStreams int     `json:"maxFolderStreams"`
	} `json:"hosts"`
}

func (s *Spec) effective() EffectiveProfile {
	e := EffectiveProfile{Profile: s.Profile, SuspendScale: s.SuspendScale, BootSec: *s.Guest.BootSec, ResumeSec: *s.Guest.ResumeSec, ShutdownSec: *s.Guest.ShutdownSec}
	for _, d := range s.Datastores {
		e.Datastores = append(e.Datastores, struct {
			Name      string  `json:"name"`
			Type      string  `json:"type"`
			ReadMBps  float64 `json:"readMBps"`
			WriteMBps float64 `json:"writeMBps"`
		}{d.Name, d.Type, *d.ReadMBps, *d.WriteMBps})
	}
	for _, h := range s.Hosts {
		e.Hosts = append(e.Hosts, struct {
			Name             string  `json:"name"`
			LinkGbps         float64 `json:"linkGbps"`
			MaxFolderStreams int     `json:"maxFolderStreams"`
		}{h.Name, *h.LinkGbps, h.MaxFolderStreams})
	}
	return e
}
