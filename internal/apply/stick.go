package apply

// Will it stick: the copies of the zfs module options the next boot uses
// besides /etc/modprobe.d, read back. The initramfs images carry their own
// modprobe.d, made when they were built: when the module loads from one,
// that copy applies, not /etc's. The next boot's kernel command line
// (/etc/default/grub, /etc/kernel/cmdline, the boot loader entries)
// overrides both; its settings are in the modprobe configuration already
// (host.ReadSystem gives them to modprobe.Load), where Effective, the
// drift and the refusal to write see them as they see /proc/cmdline's.

import (
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/arcadvise/arcadvise/internal/bootsteps"
	"github.com/arcadvise/arcadvise/internal/host"
	"github.com/arcadvise/arcadvise/internal/initramfs"
	"github.com/arcadvise/arcadvise/internal/modprobe"
	"github.com/arcadvise/arcadvise/internal/nextboot"
	"github.com/arcadvise/arcadvise/internal/policy"
	"github.com/arcadvise/arcadvise/internal/zfsmod"
)

// InitramfsImage is one initramfs image as the report gives it: the
// config.initramfs[] object.
type InitramfsImage struct {
	Path          string `json:"path"`
	Kernel        string `json:"kernel"`
	Builder       string `json:"builder"`
	RunningKernel bool   `json:"running_kernel"`
	NewestKernel  bool   `json:"newest_kernel"`
	// UsedAtBoot says the next boot may use the image: the running
	// kernel's (a reboot without a kernel update boots it) or the newest
	// kernel's (what the boot loader's default entry boots after an
	// update). When no image is named for the running kernel (an unknown
	// release; mkinitcpio's initramfs-linux.img, named for its preset),
	// any may be the one: every image is.
	UsedAtBoot bool      `json:"used_at_boot"`
	Built      time.Time `json:"built"`
	SizeBytes  int64     `json:"size_bytes"`
	// Read says the image was read (--check, --write, the metrics);
	// otherwise only its name, size and time are known, and the values,
	// ZFSModule and Stale are null.
	Read        bool     `json:"read"`
	Compression []string `json:"compression"`
	ZFSModule   *bool    `json:"zfs_module"`
	ArcMax      *uint64  `json:"zfs_arc_max"`
	ArcMin      *uint64  `json:"zfs_arc_min"`
	SysFree     *uint64  `json:"zfs_arc_sys_free"`
	// Stale says its modprobe.d gives other zfs_arc_* values than /etc
	// does (after a write, than what was written); Differences says which.
	Stale       *bool    `json:"stale"`
	Differences []string `json:"differences"`
	// Changes are the differences in short, for the text: "zfs_arc_max
	// 4294967296, /etc 1476395008".
	Changes []string `json:"-"`
	// LoadsModule says the zfs module loads from this image at boot, and
	// LoadsWhy why (or why not).
	LoadsModule bool   `json:"loads_module"`
	LoadsWhy    string `json:"loads_why"`
	// Drift: the next boot may use this image (the running or the newest
	// kernel's), zfs loads from it, and it would give the module other
	// values than /etc for a parameter the command line does not set.
	Drift bool   `json:"drift"`
	Note  string `json:"note,omitempty"`
}

// NextCmdline is one source of the next boot's kernel command line: the
// config.next_cmdline[] object.
type NextCmdline struct {
	Path    string  `json:"path"` // file:line
	Kind    string  `json:"kind"`
	ArcMax  *uint64 `json:"zfs_arc_max"`
	ArcMin  *uint64 `json:"zfs_arc_min"`
	SysFree *uint64 `json:"zfs_arc_sys_free"`
	// Settings are every zfs.* word it passes, as the module gets them.
	Settings []string `json:"settings"`
	Notes    []string `json:"notes,omitempty"`
}

// wanted is what a parameter is set to in the files at the next boot: the
// value, or unset (the module's default).
type wanted struct {
	value string
	set   bool
	where string
}

func (w wanted) String() string {
	if !w.set {
		return "not set"
	}
	return w.value
}

// fileValues are the zfs_arc_* values /etc's modprobe.d gives now.
func fileValues(cfg *modprobe.Config) map[string]wanted {
	out := map[string]wanted{}
	for _, p := range zfsmod.ArcParams {
		if s, ok := cfg.EffectiveFile(p.Name); ok {
			out[p.Name] = wanted{s.Value, true, s.Where()}
		} else {
			out[p.Name] = wanted{}
		}
	}
	return out
}

// writtenValues are the file values once the edit is written: the
// changed parameters take the new values (Plan checks that they do).
func writtenValues(now map[string]wanted, rec *policy.Recommendation, path string) map[string]wanted {
	out := map[string]wanted{}
	for k, v := range now {
		out[k] = v
	}
	for _, ch := range changes(rec) {
		out[ch.Param] = wanted{fmt.Sprint(ch.Value), true, path}
	}
	return out
}

func sameSetting(a, b wanted) bool {
	if a.set != b.set {
		return false
	}
	if !a.set {
		return true
	}
	x, errA := modprobe.ParseValue(a.value)
	y, errB := modprobe.ParseValue(b.value)
	if errA == nil && errB == nil {
		return x == y
	}
	return a.value == b.value
}

func bytesOf(cfg *modprobe.Config, param string) *uint64 {
	s, ok := cfg.Effective(param)
	if !ok {
		return nil
	}
	v, err := modprobe.ParseValue(s.Value)
	if err != nil {
		return nil
	}
	return &v
}

// rootOnZFS describes a root file system on ZFS, "" otherwise.
func rootOnZFS(snap *host.Snapshot) string {
	if root, ok := snap.Mounts.On("/"); ok && root.Type == "zfs" {
		return fmt.Sprintf("/ is on zfs (%s): the boot loads zfs from the initramfs to import the pool", root.Source)
	}
	return ""
}

// listImages describes the images found: what is known without reading
// them, and for those read, their values and what loads zfs from them.
// stale and drift are filled by staleness.
func listImages(snap *host.Snapshot, hostWhy string, hostLoads bool) []InitramfsImage {
	out := []InitramfsImage{}
	newest, running := "", false
	for _, im := range snap.Initramfs {
		if newest == "" || initramfs.CompareVersions(im.Kernel, newest) > 0 {
			newest = im.Kernel
		}
		running = running || im.Running
	}
	rootZFS := rootOnZFS(snap)
	changed, changedAt := newestSetting(snap)
	for _, im := range snap.Initramfs {
		r := InitramfsImage{Path: im.Path, Kernel: im.Kernel, Builder: im.Builder, RunningKernel: im.Running,
			NewestKernel: im.Kernel == newest, Built: im.ModTime.Truncate(time.Second), SizeBytes: im.Size,
			UsedAtBoot: im.Running || im.Kernel == newest || !running, Compression: []string{}, Differences: []string{}}
		img := im.Image
		switch {
		case img != nil:
			r.Read = true
			r.Compression = img.Compressions
			has := len(img.Contents.ZFSModules) > 0
			r.ZFSModule = &has
			r.ArcMax = bytesOf(img.Modprobe, zfsmod.ArcMax)
			r.ArcMin = bytesOf(img.Modprobe, zfsmod.ArcMin)
			r.SysFree = bytesOf(img.Modprobe, zfsmod.ArcSysFree)
			switch {
			case !has:
				r.LoadsWhy = "it holds no zfs module"
			case rootZFS != "":
				r.LoadsModule, r.LoadsWhy = true, rootZFS
			case len(img.Contents.Loads) > 0:
				r.LoadsModule, r.LoadsWhy = true, strings.Join(img.Contents.Loads, "; ")
			default:
				// contrib/initramfs/hooks/zfs.in:50 puts the module in
				// every image; only conf.d/zfs (root=ZFS=) makes the boot
				// script load it.
				r.LoadsWhy = "it holds zfs.ko, but nothing in it loads zfs and / is not on zfs: zfs loads later, from the root file system, with its /etc/modprobe.d"
			}
		case im.Unreadable != "":
			r.LoadsModule, r.LoadsWhy = hostLoads, hostWhy
			r.Note = "could not be read: " + im.Unreadable
		default:
			r.LoadsModule, r.LoadsWhy = hostLoads, hostWhy
			r.Note = "not read: --check, --write and the metrics read the images"
			if changed != "" && im.ModTime.Before(changedAt) {
				r.Note += fmt.Sprintf("; it is older than %s (changed %s), so it may be stale", changed, changedAt.Format("2006-01-02 15:04"))
			}
		}
		out = append(out, r)
	}
	return out
}

// newestSetting is the modprobe.d file setting a zfs_arc_* parameter that
// changed last, and when: an image older than it may be stale. Only the
// files are looked at (a stat each), not their content.
func newestSetting(snap *host.Snapshot) (string, time.Time) {
	var path string
	var at time.Time
	seen := map[string]bool{}
	for _, p := range zfsmod.ArcParams {
		for _, s := range snap.Modprobe.All(p.Name) {
			if s.Source != modprobe.FromFile || seen[s.Path] {
				continue
			}
			seen[s.Path] = true
			if fi, err := snap.FS.Stat(s.Path); err == nil && fi.ModTime().After(at) {
				path, at = s.Path, fi.ModTime()
			}
		}
	}
	return path, at
}

// staleness compares every image read with the file values want (/etc's
// now, or as written), fills Stale, Differences and Drift, and returns
// the drift lines for the images the next boot uses. rebuild is the
// command that rebuilds them ("" when unknown).
func staleness(res *Result, snap *host.Snapshot, want map[string]wanted, rebuild string) []string {
	var drift []string
	for i := range res.Initramfs {
		r := &res.Initramfs[i]
		img := imageOf(snap, r.Path)
		if img == nil {
			continue
		}
		stale := false
		r.Differences, r.Changes = []string{}, nil
		var driftParams []string
		etcInImage := false
		for _, f := range img.Modprobe.Files {
			etcInImage = etcInImage || strings.HasPrefix(f, "/etc/modprobe.d/")
		}
		etcWanted := false
		for _, p := range zfsmod.ArcParams {
			got := wanted{}
			if s, ok := img.Modprobe.Effective(p.Name); ok {
				got = wanted{s.Value, true, s.Where()}
			}
			w := want[p.Name]
			if sameSetting(got, w) {
				continue
			}
			stale = true
			etcWanted = etcWanted || strings.HasPrefix(w.where, "/etc/modprobe.d/")
			d := fmt.Sprintf("%s: %s in the image", p.Name, got)
			if got.set {
				d += " (its " + got.where + ")"
			}
			if w.set {
				d += fmt.Sprintf(", %s at %s", w.value, w.where)
			} else {
				d += ", not set in /etc's modprobe.d"
			}
			r.Differences = append(r.Differences, d)
			r.Changes = append(r.Changes, fmt.Sprintf("%s %s, /etc %s", p.Name, got, w))
			// A parameter the next boot's command line sets is the
			// command line's whatever the image says.
			if s, ok := snap.Modprobe.Effective(p.Name); !ok || s.Source != modprobe.FromCmdline {
				d := p.Name + "=" + got.value
				if !got.set {
					d = p.Name + " not set"
				}
				if w.set {
					d += " where /etc has " + w.value
				} else {
					d += " where /etc does not set it"
				}
				driftParams = append(driftParams, d)
			}
		}
		r.Stale = &stale
		r.Drift = r.LoadsModule && r.UsedAtBoot && len(driftParams) > 0
		if !r.Drift {
			continue
		}
		how := "rebuild it with your distribution's tool"
		if rebuild != "" {
			how = "rebuild it: " + rebuild
		}
		line := fmt.Sprintf("next boot: the initramfs %s is stale: it holds %s, and zfs loads from it (%s); %s", r.Path, strings.Join(driftParams, ", "), firstReason(r.LoadsWhy), how)
		if !etcInImage && etcWanted {
			// 90kernel-modules/module-setup.sh (dracut 059): inst_multiple
			// -H /etc/modprobe.d/*.conf only with $hostonly.
			line += "; it carries no /etc/modprobe.d at all: dracut copies it into host-only images only (--hostonly), so either rebuild it host-only or set the value on the kernel command line"
		}
		drift = append(drift, line)
	}
	return drift
}

// firstReason keeps the first of several reasons joined with "; ".
func firstReason(why string) string { return FirstReason(why) }

// FirstReason keeps the first of several reasons joined with "; " (a
// LoadsWhy), saying there are more.
func FirstReason(why string) string {
	if i := strings.Index(why, "; "); i >= 0 {
		return why[:i] + "; and more"
	}
	return why
}

func imageOf(snap *host.Snapshot, path string) *initramfs.Image {
	for _, im := range snap.Initramfs {
		if im.Path == path {
			return im.Image
		}
	}
	return nil
}

// imageEvidence says, for bootsteps, what in the images the next boot
// uses loads zfs.
func imageEvidence(snap *host.Snapshot, images []InitramfsImage) []string {
	var out []string
	for _, r := range images {
		img := imageOf(snap, r.Path)
		if img == nil || !r.UsedAtBoot || len(img.Contents.ZFSModules) == 0 || len(img.Contents.Loads) == 0 {
			continue
		}
		out = append(out, r.Path+" loads zfs: "+img.Contents.Loads[0])
	}
	return out
}

// nextCmdlines lists the next boot's command line sources with the zfs
// settings of each (from the modprobe configuration, which holds them).
func nextCmdlines(snap *host.Snapshot) []NextCmdline {
	out := []NextCmdline{}
	for _, src := range snap.NextBoot {
		n := NextCmdline{Path: fmt.Sprintf("%s:%d", src.Path, src.Line), Kind: string(src.Kind), Settings: []string{}, Notes: src.Notes}
		for _, s := range snap.Modprobe.Settings {
			if s.Source != modprobe.FromCmdline || s.Path != src.Path || s.Line != src.Line {
				continue
			}
			n.Settings = append(n.Settings, s.String())
			v, err := modprobe.ParseValue(s.Value)
			if err != nil {
				continue
			}
			switch {
			case modprobe.SameParam(s.Param, zfsmod.ArcMax):
				n.ArcMax = &v
			case modprobe.SameParam(s.Param, zfsmod.ArcMin):
				n.ArcMin = &v
			case modprobe.SameParam(s.Param, zfsmod.ArcSysFree):
				n.SysFree = &v
			}
		}
		out = append(out, n)
	}
	return out
}

// cmdlineFix says how to take a zfs.* setting off the kernel command line
// it comes from (s from the modprobe configuration).
func cmdlineFix(snap *host.Snapshot, s modprobe.Setting) string {
	word := "zfs." + s.Param
	refresh := ""
	if snap.ProxmoxBootTool {
		// pve-docs system-booting.adoc, "Editing the Kernel Commandline".
		refresh = ", then run proxmox-boot-tool refresh (it copies the command line to the ESPs)"
	}
	for _, src := range snap.NextBoot {
		if src.Path != s.Path || src.Line != s.Line {
			continue
		}
		switch src.Kind {
		case nextboot.GrubLinux, nextboot.GrubDefault:
			name := "GRUB_CMDLINE_LINUX"
			if src.Kind == nextboot.GrubDefault {
				name = "GRUB_CMDLINE_LINUX_DEFAULT"
			}
			if refresh == "" {
				refresh = ", then run update-grub (grub2-mkconfig -o /boot/grub2/grub.cfg on Fedora and RHEL)"
			}
			return fmt.Sprintf("remove %s from %s at %s%s", word, name, s.Where(), refresh)
		case nextboot.KernelCmdline:
			if refresh == "" {
				refresh = ", then reinstall the boot entries (kernel-install add $(uname -r) /boot/vmlinuz-$(uname -r))"
			}
			return fmt.Sprintf("remove %s from %s%s", word, s.Path, refresh)
		case nextboot.BLS:
			return fmt.Sprintf("remove %s from the options line of %s (grubby --update-kernel=ALL --remove-args=%s on Fedora and RHEL)%s", word, s.Where(), word, refresh)
		}
	}
	return fmt.Sprintf("remove %s from the boot loader's kernel command line (this boot's %s has it; e.g. GRUB_CMDLINE_LINUX in /etc/default/grub)%s", word, s.Where(), refresh)
}

// stickNotes are what to say about the boot's copies after a write: the
// images read before it, which still hold the old values, and the
// proxmox-boot-tool refresh a command line change needs.
func stickNotes(snap *host.Snapshot, res *Result, st bootsteps.Steps) []string {
	var out []string
	if st.InitramfsNeeded {
		var old []string
		for _, r := range res.Initramfs {
			if r.Read && r.Stale != nil && *r.Stale && r.UsedAtBoot {
				old = append(old, r.Path)
			}
		}
		sort.Strings(old)
		if len(old) > 0 {
			it, verb := "it is", "holds"
			if len(old) > 1 {
				it, verb = "they are", "hold"
			}
			out = append(out, fmt.Sprintf("until %s rebuilt, %s still %s the values from before this write (read before it): zfs would load with those", it, strings.Join(old, ", "), verb))
		}
	}
	if snap.ProxmoxBootTool {
		// proxmox-kernel-helper: /etc/initramfs/post-update.d/proxmox-boot-sync
		// runs "proxmox-boot-tool refresh" after a manual update-initramfs.
		out = append(out, "proxmox-boot-tool keeps the boot on the ESPs here ("+nextboot.ProxmoxBootUUIDs+"): update-initramfs copies a rebuilt image to them itself (its post-update hook runs proxmox-boot-tool refresh), but a kernel command line change (/etc/kernel/cmdline, /etc/default/grub) reaches them only with proxmox-boot-tool refresh")
	}
	for _, p := range zfsmod.ArcParams {
		if s, ok := snap.Modprobe.Effective(p.Name); ok && s.Source == modprobe.FromCmdline {
			out = append(out, fmt.Sprintf("the kernel command line still sets %s=%s (%s), which overrides the file: %s", s.Param, s.Value, s.Where(), cmdlineFix(snap, s)))
		}
	}
	return out
}
