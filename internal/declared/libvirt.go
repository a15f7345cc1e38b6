package declared

import (
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"math/bits"
	"strconv"
	"strings"

	"github.com/arcadvise/arcadvise/internal/size"
)

// libvirt's domain XML is read with encoding/xml's token stream rather
// than libvirt.org/go/libvirtxml: only a dozen elements matter here, each
// value error must name its line (the decoder's InputPos gives it; an
// Unmarshal into structs does not), the size and depth bounds sit in the
// same single pass, and elements a newer libvirt adds cannot break the
// read. encoding/xml expands no entities beyond the five predefined ones,
// so a "billion laughs" file is an error, not a memory bomb.
//
// The values follow libvirt 10.7.0 (Avenger-285714/libvirt_deepin
// @f1e0e98e8f73, an import of upstream libvirt; docs/formatdomain.rst
// 1038-1206):
//
//   - <memory unit=...>: the maximum at boot, memory devices included;
//     unit defaults to KiB; the value is rounded up to a whole KiB
//     (virDomainParseMemory, src/conf/domain_conf.c:8290). When it is
//     missing, libvirt takes the sum of the NUMA cells plus the memory
//     devices (virDomainDefPostParseMemory,
//     src/conf/domain_postparse.c:32-89).
//   - units as virScaleInteger (src/util/virutil.c:172): b, byte, bytes;
//     k, m, g, t, p, e alone or with "iB" are powers of 1024, with "B"
//     powers of 1000; any letter case.
//   - <currentMemory> (the balloon target), <maxMemory> (the hotplug
//     ceiling), <memtune><hard_limit> (VIR_DOMAIN_MEMORY_PARAM_UNLIMITED,
//     9007199254740991 KiB, means none: include/libvirt/libvirt-domain.h:1847),
//     <memoryBacking><hugepages> with <page size unit nodeset> (size in KiB
//     by default; no <page> is the host's default size),
//     <memoryBacking><locked/>, PCI and mdev <hostdev>, <interface
//     type='hostdev'> and NVMe disks (VFIO pins guest memory), <memory
//     model=...> devices.
//   - a status file (/run/libvirt/qemu/<name>.xml) is a <domstatus
//     state=... pid=...> that wraps the live <domain id=...>.

// unlimitedKiB is VIR_DOMAIN_MEMORY_PARAM_UNLIMITED.
const unlimitedKiB = 9007199254740991

// libvirtUnits lists the units libvirt takes, for messages.
const libvirtUnits = "b, bytes, KB, k, KiB, MB, M, MiB, GB, G, GiB, TB, T, TiB, PB, P, PiB, EB, E, EiB"

// libvirtScale is the multiplier of a unit as virScaleInteger reads it;
// "" is def.
func libvirtScale(unit string, def uint64) (uint64, bool) {
	if unit == "" {
		return def, true
	}
	switch strings.ToLower(unit) {
	case "b", "byte", "bytes":
		return 1, true
	}
	var base uint64
	switch rest := unit[1:]; {
	case rest == "" || strings.EqualFold(rest, "iB"):
		base = 1024
	case strings.EqualFold(rest, "b"):
		base = 1000
	default:
		return 0, false
	}
	n := strings.IndexByte("kmgtpe", lower(unit[0]))
	if n < 0 {
		return 0, false
	}
	m := uint64(1)
	for range n + 1 {
		m *= base
	}
	return m, true
}

func lower(c byte) byte {
	if 'A' <= c && c <= 'Z' {
		return c + 'a' - 'A'
	}
	return c
}

// qty is a size read from the XML, with the line that gave it.
type qty struct {
	bytes uint64
	line  int
	set   bool
}

// domainXML collects what ParseLibvirt reads from one file.
type domainXML struct {
	name, uuid           string
	nameLine             int
	memory, current, max qty
	hardLimit            qty
	hugepages            bool
	pages                []page
	locked, hostdev      bool
	cells                []cell
	devices              []memdev
	id                   string // <domain id=...>: a live domain's ID
	partition            string // <resource><partition>
	status               bool   // a <domstatus> wrapper
	domains              int
}

type page struct {
	size    uint64
	nodeset string
	line    int
}

type cell struct {
	id    string // its id, or its position when it has none
	bytes uint64
}

type memdev struct {
	model string
	size  uint64
}

// xmlReader walks the token stream of one file.
type xmlReader struct {
	d    *xml.Decoder
	name string
	dom  *domainXML
	path []string // element names below <domain>; nil outside it
	in   bool     // inside <domain>
	text bytes.Buffer
	// units is the unit attribute of the element last started: the
	// elements whose text is a size have no child elements.
	units string
}

func (x *xmlReader) line() int {
	l, _ := x.d.InputPos()
	return l
}

func (x *xmlReader) errorf(format string, args ...any) error {
	return lineError(x.name, x.line(), format, args...)
}

// scaled reads a libvirt size: digits (virStrToLong_ullp: no sign), a
// unit (default KiB), rounded up to a whole KiB as libvirt stores it.
func (x *xmlReader) scaled(what, text, unit string) (uint64, error) {
	t := strings.TrimSpace(text)
	if t == "" || strings.Trim(t, "0123456789") != "" {
		if strings.HasPrefix(t, "-") {
			return 0, x.errorf("%s: %q is negative", what, clip(t))
		}
		return 0, x.errorf("%s: %q is not a whole number", what, clip(t))
	}
	scale, ok := libvirtScale(unit, 1024)
	if !ok {
		return 0, x.errorf("%s: unknown unit %q (libvirt takes %s)", what, clip(unit), libvirtUnits)
	}
	v, err := strconv.ParseUint(t, 10, 64)
	hi, b := bits.Mul64(v, scale)
	if err != nil || hi != 0 || b > MaxBytes {
		return 0, x.errorf("%s: %s %s is more than %s: not a real guest", what, t, unitName(unit), size.Format(MaxBytes))
	}
	return (b + 1023) / 1024 * 1024, nil
}

func unitName(u string) string {
	if u == "" {
		return "KiB"
	}
	return u
}

func attr(se xml.StartElement, name string) (string, bool) {
	for _, a := range se.Attr {
		if a.Name.Space == "" && a.Name.Local == name {
			return a.Value, true
		}
	}
	return "", false
}

// ParseLibvirt reads a libvirt domain definition (/etc/libvirt/qemu/<name>.xml)
// or status file (/run/libvirt/qemu/<name>.xml, a <domstatus>); name is the
// file's path, for messages. A status file's guest is Running. A file of
// more than 4 MiB, nested deeper than 64 elements, whose root is neither
// <domain> nor <domstatus>, or with a size libvirt would refuse, is an
// error naming the file and line.
func ParseLibvirt(r io.Reader, name string) (Guest, error) {
	b, err := io.ReadAll(io.LimitReader(r, maxXML+1))
	if err != nil {
		return Guest{}, fmt.Errorf("%s: %w", name, err)
	}
	if len(b) > maxXML {
		return Guest{}, fmt.Errorf("%s: more than %d bytes: not a libvirt domain", name, maxXML)
	}
	x := &xmlReader{d: xml.NewDecoder(bytes.NewReader(b)), name: name, dom: &domainXML{}}
	x.d.Strict = true
	if err := x.walk(); err != nil {
		return Guest{}, err
	}
	return x.dom.guest(name)
}

func (x *xmlReader) walk() error {
	depth := 0
	root := ""
	for {
		tok, err := x.d.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			var se *xml.SyntaxError
			if errors.As(err, &se) {
				return lineError(x.name, se.Line, "not well-formed XML: %s", se.Msg)
			}
			return x.errorf("not well-formed XML: %v", err)
		}
		switch t := tok.(type) {
		case xml.StartElement:
			depth++
			if depth > maxXMLDepth {
				return x.errorf("elements nested deeper than %d: not a libvirt domain", maxXMLDepth)
			}
			if depth == 1 {
				root = t.Name.Local
				switch root {
				case "domain":
					if err := x.enterDomain(t); err != nil {
						return err
					}
				case "domstatus":
					x.dom.status = true
				default:
					return x.errorf("root element <%s> is not a libvirt <domain> or <domstatus>", clip(root))
				}
				continue
			}
			if root == "domstatus" && depth == 2 && t.Name.Local == "domain" {
				if err := x.enterDomain(t); err != nil {
					return err
				}
				continue
			}
			if x.in {
				x.path = append(x.path, t.Name.Local)
				x.text.Reset()
				if err := x.start(t); err != nil {
					return err
				}
			}
		case xml.EndElement:
			depth--
			if !x.in {
				continue
			}
			if len(x.path) == 0 {
				x.in = false // </domain>
				continue
			}
			if err := x.end(); err != nil {
				return err
			}
			x.path = x.path[:len(x.path)-1]
			x.text.Reset()
		case xml.CharData:
			if x.in && x.wantsText() {
				if x.text.Len()+len(t) > maxXML {
					return x.errorf("text too long")
				}
				x.text.Write(t)
			}
		}
	}
	if root == "" {
		return fmt.Errorf("%s: no XML element: not a libvirt domain", x.name)
	}
	if x.dom.domains == 0 {
		return fmt.Errorf("%s: <domstatus> without a <domain>: not a libvirt status file", x.name)
	}
	return nil
}

func (x *xmlReader) enterDomain(t xml.StartElement) error {
	if x.dom.domains++; x.dom.domains > 1 {
		return x.errorf("a second <domain>: one file holds one domain")
	}
	x.in = true
	x.path = x.path[:0]
	x.dom.id, _ = attr(t, "id")
	return nil
}

// at reports whether the current element is at path p below <domain>.
func (x *xmlReader) at(p ...string) bool {
	if len(x.path) != len(p) {
		return false
	}
	for i := range p {
		if x.path[i] != p[i] {
			return false
		}
	}
	return true
}

func (x *xmlReader) wantsText() bool {
	return x.at("name") || x.at("uuid") || x.at("memory") || x.at("currentMemory") || x.at("maxMemory") ||
		x.at("memtune", "hard_limit") || x.at("devices", "memory", "target", "size") || x.at("resource", "partition")
}

// start handles the start of an element below <domain>: the sizes given as
// attributes, the flags, and the unit of an element whose text is a size.
func (x *xmlReader) start(t xml.StartElement) error {
	d := x.dom
	switch {
	case x.at("memoryBacking", "hugepages"):
		d.hugepages = true
	case x.at("memoryBacking", "hugepages", "page"):
		v, err := x.sizeAttr(t, "size", "<page size>", "<page> without a size")
		if err != nil {
			return err
		}
		if v == 0 {
			return x.errorf("<page size> is 0")
		}
		ns, _ := attr(t, "nodeset")
		d.pages = append(d.pages, page{size: v, nodeset: ns, line: x.line()})
	case x.at("memoryBacking", "locked"):
		d.locked = true
	case x.at("devices", "hostdev"):
		// VFIO pins the guest's memory: a PCI or mediated device, a VF
		// given as <interface type='hostdev'>, an NVMe disk
		// (qemuDomainNeedsVFIO, src/qemu/qemu_domain.c:10801-10806). A
		// SCSI or USB host device does not.
		if ty, _ := attr(t, "type"); ty == "pci" || ty == "mdev" {
			d.hostdev = true
		}
	case x.at("devices", "interface"):
		if ty, _ := attr(t, "type"); ty == "hostdev" {
			d.hostdev = true
		}
	case x.at("devices", "disk"):
		if ty, _ := attr(t, "type"); ty == "nvme" {
			d.hostdev = true
		}
	case x.at("cpu", "numa", "cell"):
		v, err := x.sizeAttr(t, "memory", "<cell memory>", "NUMA <cell> without memory")
		if err != nil {
			return err
		}
		id, _ := attr(t, "id")
		if id == "" {
			id = strconv.Itoa(len(d.cells))
		}
		d.cells = append(d.cells, cell{id: id, bytes: v})
	case x.at("devices", "memory"):
		model, _ := attr(t, "model")
		d.devices = append(d.devices, memdev{model: model})
	}
	x.units = ""
	if u, ok := attr(t, "unit"); ok {
		x.units = u
	}
	return nil
}

// sizeAttr reads the size in the attribute name of t, in the unit of its
// "unit" attribute (scaled): missing, it is the error given.
func (x *xmlReader) sizeAttr(t xml.StartElement, name, what, missing string) (uint64, error) {
	s, ok := attr(t, name)
	if !ok {
		return 0, x.errorf("%s", missing)
	}
	u, _ := attr(t, "unit")
	return x.scaled(what, s, u)
}

func (x *xmlReader) end() error {
	d := x.dom
	text := x.text.String()
	set := func(q *qty, what string) error {
		if q.set {
			return x.errorf("a second %s (the first is at line %d): the file says two things", what, q.line)
		}
		v, err := x.scaled(what, text, x.units)
		if err != nil {
			return err
		}
		*q = qty{bytes: v, line: x.line(), set: true}
		return nil
	}
	switch {
	case x.at("name"):
		if d.nameLine != 0 {
			return x.errorf("a second <name> (the first is at line %d)", d.nameLine)
		}
		d.name, d.nameLine = strings.TrimSpace(text), x.line()
	case x.at("uuid"):
		d.uuid = strings.TrimSpace(text)
	case x.at("memory"):
		return set(&d.memory, "<memory>")
	case x.at("currentMemory"):
		return set(&d.current, "<currentMemory>")
	case x.at("maxMemory"):
		return set(&d.max, "<maxMemory>")
	case x.at("memtune", "hard_limit"):
		t := strings.TrimSpace(text)
		if scale, ok := libvirtScale(x.units, 1024); ok && t != "" && strings.Trim(t, "0123456789") == "" {
			v, err := strconv.ParseUint(t, 10, 64)
			hi, b := bits.Mul64(v, scale)
			if err != nil || hi != 0 || b > MaxBytes || scale == 1024 && v == unlimitedKiB {
				// VIR_DOMAIN_MEMORY_PARAM_UNLIMITED, or a limit above
				// any host: no limit.
				return nil
			}
		}
		return set(&d.hardLimit, "<hard_limit>")
	case x.at("devices", "memory", "target", "size"):
		v, err := x.scaled("<memory><target><size>", text, x.units)
		if err != nil {
			return err
		}
		d.devices[len(d.devices)-1].size = v
	case x.at("resource", "partition"):
		d.partition = strings.TrimSpace(text)
	}
	return nil
}

// guest turns what was read into a Guest.
func (d *domainXML) guest(name string) (Guest, error) {
	if d.name == "" {
		return Guest{}, fmt.Errorf("%s: the domain has no <name>", name)
	}
	g := Guest{Source: Libvirt, ID: d.name, Name: d.name, Path: name, UUID: d.uuid}
	// Each size is at most MaxBytes, but a 4 MiB file holds many: the
	// sums saturate rather than wrap, and are checked below.
	var cells, devs uint64
	for _, c := range d.cells {
		cells = satAdd(cells, c.bytes)
	}
	for _, m := range d.devices {
		devs = satAdd(devs, m.size)
		if m.model == "nvdimm" || m.model == "virtio-pmem" {
			g.PmemBytes = satAdd(g.PmemBytes, m.size)
		}
	}
	switch {
	case d.memory.set && d.memory.bytes > 0:
		g.DeclaredBytes = d.memory.bytes
	case cells > 0:
		g.DeclaredBytes = satAdd(cells, devs)
	default:
		return Guest{}, fmt.Errorf("%s: the domain %q has no <memory> and no NUMA cells: libvirt "+
			"refuses it (\"Memory size must be specified via <memory> or in the <numa> configuration\")", name, d.name)
	}
	if g.DeclaredBytes > MaxBytes {
		return Guest{}, fmt.Errorf("%s: the domain %q has %s of NUMA cells and memory devices, more than %s: "+
			"not a real guest", name, d.name, size.Format(g.DeclaredBytes), size.Format(MaxBytes))
	}
	if g.PmemBytes > g.DeclaredBytes {
		g.PmemBytes = g.DeclaredBytes
	}
	if d.current.set && d.current.bytes > 0 && d.current.bytes < g.DeclaredBytes {
		g.BalloonMinBytes = d.current.bytes
	}
	g.MaxMemoryBytes = d.max.bytes
	g.HardLimitBytes = d.hardLimit.bytes
	g.Pinned = d.locked || d.hostdev
	if d.hugepages {
		uses, err := d.hugepageUse(name, g.DeclaredBytes-g.PmemBytes)
		if err != nil {
			return Guest{}, err
		}
		g.Hugepages = uses
	}
	if d.status {
		// libvirt keeps a status file only while the domain is active.
		g.Running = true
		g.Cgroup = machineScope(d.partition, d.id, d.name)
	}
	return g, nil
}

// hugepageUse splits ram over the huge page sizes: each NUMA cell takes the
// <page> whose nodeset holds its id, else the <page> without a nodeset,
// else the host's default size; the memory outside the cells (devices)
// takes the <page> without a nodeset or the default, as libvirt's QEMU
// driver picks a memory backend per guest node
// (qemuBuildMemoryBackendProps, src/qemu/qemu_command.c).
func (d *domainXML) hugepageUse(name string, ram uint64) ([]HugePageUse, error) {
	var def uint64 // the <page> without a nodeset; 0: host default
	for _, p := range d.pages {
		if p.nodeset == "" {
			def = p.size
		} else if _, err := parseNodeset(p.nodeset); err != nil {
			return nil, lineError(name, p.line, "<page nodeset=%q>: %v", clip(p.nodeset), err)
		}
	}
	by := map[uint64]uint64{}
	var order []uint64
	add := func(sz, b uint64) {
		if b == 0 {
			return
		}
		if _, ok := by[sz]; !ok {
			order = append(order, sz)
		}
		by[sz] += b
	}
	var inCells uint64
	for _, c := range d.cells {
		sz := def
		for _, p := range d.pages {
			if p.nodeset == "" {
				continue
			}
			ns, _ := parseNodeset(p.nodeset)
			if id, err := strconv.ParseUint(c.id, 10, 32); err == nil && ns.has(id) {
				sz = p.size
				break
			}
		}
		b := min(c.bytes, ram-inCells)
		add(sz, b)
		inCells += b
	}
	add(def, ram-inCells)
	out := make([]HugePageUse, 0, len(order))
	for _, sz := range order {
		out = append(out, HugePageUse{PageSize: sz, Bytes: by[sz]})
	}
	return out, nil
}

// nodeset is a libvirt bitmap: "0,2-3", "0-7,^5" (virBitmapParse).
type nodeset struct{ in, out [][2]uint64 }

func (n nodeset) has(id uint64) bool {
	for _, r := range n.out {
		if r[0] <= id && id <= r[1] {
			return false
		}
	}
	for _, r := range n.in {
		if r[0] <= id && id <= r[1] {
			return true
		}
	}
	return false
}

func parseNodeset(s string) (nodeset, error) {
	var n nodeset
	for part := range strings.SplitSeq(s, ",") {
		part = strings.TrimSpace(part)
		neg := strings.HasPrefix(part, "^")
		part = strings.TrimPrefix(part, "^")
		lo, hi, isRange := strings.Cut(part, "-")
		a, err1 := strconv.ParseUint(lo, 10, 32)
		b := a
		var err2 error
		if isRange {
			b, err2 = strconv.ParseUint(hi, 10, 32)
		}
		if err1 != nil || err2 != nil || b < a || neg && isRange {
			return nodeset{}, fmt.Errorf("not a node set (want e.g. 0,2-3 or 0-7,^5)")
		}
		if neg {
			n.out = append(n.out, [2]uint64{a, b})
		} else {
			n.in = append(n.in, [2]uint64{a, b})
		}
	}
	return n, nil
}

// machineScope is the cgroup of a running libvirt QEMU domain under
// systemd: the slice of its <resource><partition> (default /machine,
// machine.slice) and the scope "machine-" + the escaped machine name
// "qemu-<id>-<name>" + ".scope" (virDomainDriverGenerateMachineName and
// virDomainMachineNameAppendValid, src/hypervisor/domain_driver.c:56-120;
// virSystemdMakeScopeName, virSystemdMakeSliceName and
// virSystemdEscapeName, src/util/virsystemd.c:56-125). "" without an ID.
func machineScope(partition, id, name string) string {
	if id == "" || strings.Trim(id, "0123456789") != "" {
		return ""
	}
	if partition == "" {
		partition = "/machine"
	}
	slice := systemdEscape(strings.TrimPrefix(partition, "/"))
	machine := "qemu-" + id + "-"
	machine += machineNameValid(name, 64-len(machine))
	return slicePath(slice) + "/machine-" + systemdEscape(machine) + ".scope"
}

// machineNameValid keeps the hostname characters of name, collapses runs
// of '-' and '.', drops leading ones, stops at room bytes and trims
// trailing '-' and '.' (virDomainMachineNameAppendValid).
func machineNameValid(name string, room int) string {
	var b []byte
	skip := true
	for i := 0; i < len(name) && len(b) < room; i++ {
		c := name[i]
		if c == '.' || c == '-' {
			if !skip {
				b = append(b, c)
				skip = true
			}
			continue
		}
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9') {
			continue
		}
		b = append(b, c)
		skip = false
	}
	return strings.TrimRight(string(b), "-.")
}

// systemdEscape is virSystemdEscapeName: '/' becomes '-', and '-', '\'
// and anything outside [0-9A-Za-z:_.] becomes \xNN (a leading '.' too).
func systemdEscape(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '/':
			b.WriteByte('-')
		case i == 0 && c == '.',
			c == '-', c == '\\',
			!('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == ':' || c == '_' || c == '.'):
			fmt.Fprintf(&b, `\x%02x`, c)
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}

// slicePath is the cgroup path of a systemd slice: "a-b.slice" lives in
// "a.slice/a-b.slice" (systemd.slice(5)).
func slicePath(name string) string {
	parts := strings.Split(name, "-")
	var out []string
	for i := range parts {
		out = append(out, strings.Join(parts[:i+1], "-")+".slice")
	}
	return strings.Join(out, "/")
}
