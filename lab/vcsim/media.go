package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// ISO images in CD/DVD drives. As on a real host, a VM whose drive is backed by an ISO file uses that
// file's datastore: it is among the VM's datastores and the datastore's VMs, so the datastore cannot be
// unmounted from a host the VM is registered on. A drive turned into a client device (deviceType
// atapi-cdrom, no file) holds no datastore.

// isoDatastores returns the datastores of the ISO images that the .vmx's CD/DVD drives hold.
func (l *Launcher) isoDatastores(vmx dsPath) []string {
	local, ok := l.local(vmx)
	if !ok {
		return nil
	}
	x, err := readVMX(local)
	if err != nil {
		return nil
	}
	var out []string
	for _, e := range x.entries {
		device, ok := strings.CutSuffix(strings.ToLower(e.k), ".devicetype")
		if !ok || !strings.EqualFold(e.v, "cdrom-image") || strings.EqualFold(x.Get(device+".present"), "FALSE") {
			continue
		}
		if file := x.Get(device + ".fileName"); file != "" {
			out = append(out, resolveRef(vmx.Dir(), file).DS)
		}
	}
	return out
}

// addISO gives a spec VM a CD/DVD drive (ide1:0) holding the ISO image iso ("[ds] path"), and writes
// that image (1 MiB of pattern) when it does not exist yet.
func (l *Launcher) addISO(iso string, seed uint64, set func(k, v string)) error {
	p, ok := parseDSPath(iso)
	if !ok {
		return fmt.Errorf("iso %q is not a datastore path like [ds] iso/image.iso", iso)
	}
	local, ok := l.local(p)
	if !ok {
		return fmt.Errorf("iso %q: no datastore %s", iso, p.DS)
	}
	if !fileExists(local) {
		if err := os.MkdirAll(filepath.Dir(local), 0o755); err != nil {
			return err
		}
		if err := writeFlatExtent(local, 1<<20, "pattern", mix(seed, 0x150), 0); err != nil {
			return err
		}
	}
	set("ide1:0.present", "TRUE")
	set("ide1:0.deviceType", "cdrom-image")
	set("ide1:0.fileName", "/vmfs/volumes/"+p.DS+"/"+p.Path)
	set("ide1:0.startConnected", "TRUE")
	return nil
}
