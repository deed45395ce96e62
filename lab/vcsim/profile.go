package main

import (
	_ "embed"
	"encoding/json"
	"fmt"
)

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
	SuspendScale     int64   `json:"suspendScale"`
	BootSec          float64 `json:"bootSec"`
	ResumeSec        float64 `json:"resumeSec"`
	ShutdownSec      float64 `json:"shutdownSec"`
	VMFSMBps         float64 `json:"vmfsMBps"` // read = write; 0 = unpaced
	NFSMBps          float64 `json:"nfsMBps"`
	LinkGbps         float64 `json:"linkGbps"`
	MaxFolderStreams int     `json:"maxFolderStreams"`
}

// profiles.json is the one definition of the profiles: the TypeScript lab module reads the same
// file to report the profile a lab runs with. "realistic" is the default: a figure measured on the
// lab is a product figure only with it (sources of each value: README.md). "quick" is for
// unit-level tests whose behaviour does not depend on time: nothing is paced.
//
//go:embed profiles.json
var profilesJSON []byte

var profiles = func() map[string]profileDefaults {
	m := map[string]profileDefaults{}
	if err := json.Unmarshal(profilesJSON, &m); err != nil {
		panic("profiles.json: " + err.Error())
	}
	return m
}()

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
		s.SuspendScale = p.SuspendScale
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
	if err := fill(&s.Guest.BootSec, p.BootSec, "guest.bootSec"); err != nil {
		return err
	}
	if err := fill(&s.Guest.ResumeSec, p.ResumeSec, "guest.resumeSec"); err != nil {
		return err
	}
	if err := fill(&s.Guest.ShutdownSec, p.ShutdownSec, "guest.shutdownSec"); err != nil {
		return err
	}
	for i := range s.Datastores {
		d := &s.Datastores[i]
		def := p.VMFSMBps
		if d.Type == "nfs" {
			def = p.NFSMBps
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
		if err := fill(&h.LinkGbps, p.LinkGbps, "hosts."+h.Name+".linkGbps"); err != nil {
			return err
		}
		if h.MaxFolderStreams < 0 {
			return fmt.Errorf("spec: hosts.%s.maxFolderStreams must be at least 1, got %d", h.Name, h.MaxFolderStreams)
		}
		if h.MaxFolderStreams == 0 {
			h.MaxFolderStreams = p.MaxFolderStreams
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
