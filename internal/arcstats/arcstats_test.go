package arcstats_test

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/arcadvise/arcadvise/internal/arcstats"
	"github.com/arcadvise/arcadvise/internal/testutil"
	"github.com/google/go-cmp/cmp"
)

// absent marks a field the file must not have.
const absent = math.MinInt64

var (
	labFilled   = filepath.Join("testdata", "lab-2.1.11", "11-arc-filled")
	labPressure = filepath.Join("testdata", "lab-2.1.11", "22-pressure-45s")
)

// TestFixtures parses every arcstats capture in ../shared/fixtures/arcstats
// in place and checks values read from the files by hand.
func TestFixtures(t *testing.T) {
	tests := []struct {
		file     string
		header   arcstats.Header
		rows     int
		gen      string
		checkErr string // CheckRows error, "" for none
		values   map[string]int64
	}{
		{
			file:   "blog-esbv-zol-0.6.3.txt",
			header: arcstats.Header{KID: 5, Type: 1, Flags: 1, NData: 85, DataSize: 4080, CrTime: 28525565526, SnapTime: 7155039732857},
			rows:   85, gen: "0.6.3",
			values: map[string]int64{"c": 8589934592, "c_max": 8589934592, "c_min": 1073741824, "size": 50592752, "memory_direct_count": 0, "memory_available_bytes": absent, "arc_meta_limit": 2147483648},
		},
		{
			file:   "telegraf-zol-0.6.4.txt",
			header: arcstats.Header{KID: 5, Type: 1, Flags: 1, NData: 86, DataSize: 4128, CrTime: 23617128247, SnapTime: 12081618582809582},
			rows:   86, gen: "0.6.4",
			values: map[string]int64{"c": 16381258376, "c_max": 16884125696, "c_min": 4194304, "size": 16319887096, "memory_direct_count": 5159942, "memory_indirect_count": 3034640, "memory_available_bytes": absent},
		},
		{
			file:   "node_exporter-zol-0.6.5.txt",
			header: arcstats.Header{KID: 6, Type: 1, Flags: 1, NData: 91, DataSize: 4368, CrTime: 5266997922, SnapTime: 97951858082072},
			rows:   91, gen: "0.6.5",
			values: map[string]int64{"c": 1643208777, "c_max": 8367976448, "c_min": 33554432, "size": 1603939792, "memory_direct_count": 542, "memory_indirect_count": 3006, "memory_available_bytes": absent},
		},
		{
			// Rows sorted and a negative type-3 row added by node_exporter's
			// developers: the header still says 91.
			file:   "node_exporter-HEAD-sorted-modified.txt",
			header: arcstats.Header{KID: 6, Type: 1, Flags: 1, NData: 91, DataSize: 4368, CrTime: 5266997922, SnapTime: 97951858082072},
			rows:   92, gen: "0.6.5", checkErr: "header promises 91 rows, file has 92",
			values: map[string]int64{"c": 1643208777, "c_max": 8367976448, "c_min": 33554432, "size": 1603939792, "memory_direct_count": 542, "memory_available_bytes": -922337203685477580},
		},
		{
			file:   "arcbeat-zol-0.7.x-pressure.txt",
			header: arcstats.Header{KID: 13, Type: 1, Flags: 1, NData: 96, DataSize: 26112, CrTime: 8127081594, SnapTime: 1021607863561814},
			rows:   96, gen: "0.7.6-0.7.13",
			values: map[string]int64{"c": 1101625666, "c_max": 16811368448, "c_min": 1050710528, "size": 1050849064, "memory_direct_count": 1110002, "memory_indirect_count": 392144, "memory_available_bytes": 7059144704},
		},
		{
			file:   "pcp-qa-zfs-stats-v0-zfs0.8-structure-only.txt",
			header: arcstats.Header{KID: 12, Type: 1, Flags: 1, NData: 98, DataSize: 26656, CrTime: 1724392156358366, SnapTime: 10768748012094060},
			rows:   98, gen: "0.8",
			values: map[string]int64{"c": 153, "c_max": 153, "c_min": 153, "size": 153, "memory_direct_count": 153, "memory_available_bytes": 153, "arc_raw_size": 153},
		},
		{
			file:   "pcp-qa-zfs-stats-v2-zfs2.0-structure-only-hdr-mismatch.txt",
			header: arcstats.Header{KID: 12, Type: 1, Flags: 1, NData: 98, DataSize: 26656, CrTime: 1724392156358366, SnapTime: 10768748012094060},
			rows:   116, gen: "2.0", checkErr: "header promises 98 rows, file has 116",
			values: map[string]int64{"c": 153, "c_max": 153, "c_min": 153, "size": 153, "memory_direct_count": 153, "memory_available_bytes": 153, "abd_chunk_waste_size": 153},
		},
		{
			file:   "mackerel-zfs-2.1.txt",
			header: arcstats.Header{KID: 13, Type: 1, Flags: 1, NData: 123, DataSize: 33456, CrTime: 7402060102, SnapTime: 66478716886640},
			rows:   123, gen: "2.1",
			values: map[string]int64{"c": 33676691456, "c_max": 33676691456, "c_min": 2104793216, "size": 33743421984, "memory_direct_count": 0, "memory_available_bytes": 22935279488},
		},
		{
			file:   "riemann-tools-zfs-2.1.txt",
			header: arcstats.Header{KID: 12, Type: 1, Flags: 1, NData: 123, DataSize: 33456, CrTime: 16771914747167, SnapTime: 65909736923948},
			rows:   123, gen: "2.1",
			values: map[string]int64{"c": 16767066112, "c_max": 16767066112, "c_min": 1047941632, "size": 16791717984, "memory_direct_count": 0, "memory_available_bytes": 12877639168},
		},
		{
			file:   "telegraf-issue17578-zfs2.2plus.txt",
			header: arcstats.Header{KID: 22, Type: 1, Flags: 1, NData: 147, DataSize: 39984, CrTime: 2746799574, SnapTime: 1351143854159630},
			rows:   147, gen: "2.2-2.4.2",
			values: map[string]int64{"c": 15590628496, "c_max": 32458756096, "c_min": 1047890560, "size": 14960038920, "memory_direct_count": 21360, "memory_indirect_count": 3213452, "memory_available_bytes": 3970557824, "p": absent, "arc_meta_limit": absent},
		},
		{
			file:   "zftop-zfs2.2plus.txt",
			header: arcstats.Header{KID: 23, Type: 1, Flags: 1, NData: 147, DataSize: 39984, CrTime: 2144146965, SnapTime: 3564551109516},
			rows:   147, gen: "2.2-2.4.2",
			values: map[string]int64{"c": 8589934592, "c_max": 8589934592, "c_min": 912230400, "size": 8540576328, "memory_direct_count": 0, "memory_available_bytes": 7122022400},
		},
	}

	dir := testutil.Fixture(t, "arcstats")
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	listed := map[string]bool{}
	for _, tt := range tests {
		listed[tt.file] = true
	}
	for _, e := range entries {
		if !listed[e.Name()] {
			t.Errorf("fixture %s has no entry in this table: add its values", e.Name())
		}
	}

	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			f, err := os.Open(filepath.Join(dir, tt.file))
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			s, err := arcstats.Parse(f)
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			if s.Header != tt.header {
				t.Errorf("Header = %+v, want %+v", s.Header, tt.header)
			}
			if s.Len() != tt.rows || len(s.Names()) != tt.rows {
				t.Errorf("Len = %d, len(Names) = %d, want %d", s.Len(), len(s.Names()), tt.rows)
			}
			if got := s.Generation(); got != tt.gen {
				t.Errorf("Generation = %q, want %q", got, tt.gen)
			}
			err = s.CheckRows()
			switch {
			case tt.checkErr == "" && err != nil:
				t.Errorf("CheckRows = %v, want nil", err)
			case tt.checkErr != "" && (err == nil || err.Error() != tt.checkErr):
				t.Errorf("CheckRows = %v, want %q", err, tt.checkErr)
			}
			checkValues(t, s, tt.values)
			if typ, ok := s.Type("memory_available_bytes"); ok && typ != arcstats.TypeInt64 {
				t.Errorf("memory_available_bytes type = %d, want 3", typ)
			}
			if typ, _ := s.Type("c"); typ != arcstats.TypeUint64 {
				t.Errorf("c type = %d, want 4", typ)
			}
		})
	}
}

func checkValues(t *testing.T, s *arcstats.Stats, want map[string]int64) {
	t.Helper()
	for name, v := range want {
		got, ok := s.Int(name)
		if v == absent {
			if ok || s.Has(name) {
				t.Errorf("%s = %d present, want absent", name, got)
			}
			if u, ok := s.Uint(name); ok || u != 0 {
				t.Errorf("Uint(%s) = %d, %v; want 0, false", name, u, ok)
			}
			continue
		}
		if !ok || got != v {
			t.Errorf("Int(%s) = %d, %v; want %d", name, got, ok, v)
		}
		u, ok := s.Uint(name)
		if v < 0 {
			if ok {
				t.Errorf("Uint(%s) = %d, true; want ok=false for a negative value", name, u)
			}
		} else if !ok || u != uint64(v) {
			t.Errorf("Uint(%s) = %d, %v; want %d", name, u, ok, v)
		}
	}
}

// readFieldList reads one arcstats-fieldlists-by-version file: one name per
// line, in arc_stats order, where a few lists keep the
// "#if defined(COMPAT_FREEBSD11)" block around other_size that a Linux build
// leaves out.
func readFieldList(t *testing.T, path string) []string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var names []string
	skip := false
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		switch {
		case line == "":
		case line == "#if defined(COMPAT_FREEBSD11)":
			skip = true
		case line == "#endif":
			skip = false
		case strings.HasPrefix(line, "#"):
			t.Fatalf("%s: unexpected preprocessor line %q", path, line)
		case !skip:
			names = append(names, line)
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return names
}

// synth renders names as the kernel would: kstat header, column line, rows
// padded with %-31s %-4d.
func synth(names []string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "12 1 0x01 %d %d 17383978910 139064807390\n", len(names), len(names)*272)
	fmt.Fprintf(&b, "%-31s %-4s %s\n", "name", "type", "data")
	for i, n := range names {
		if n == "memory_available_bytes" {
			fmt.Fprintf(&b, "%-31s %-4d %d\n", n, 3, -174063616)
			continue
		}
		fmt.Fprintf(&b, "%-31s %-4d %d\n", n, 4, 1000+i)
	}
	return b.String()
}

// TestFieldListsByVersion builds an arcstats file from the field list of
// every release tag and checks its generation and row count (MANIFEST §0b).
func TestFieldListsByVersion(t *testing.T) {
	tests := map[string]struct {
		gen  string
		rows int
	}{
		"zfs-0.6.0-rc14.txt": {"0.6.0-0.6.1", 80},
		"zfs-0.6.1.txt":      {"0.6.0-0.6.1", 80},
		"zfs-0.6.2.txt":      {"0.6.2", 84},
		"zfs-0.6.3.txt":      {"0.6.3", 85},
		"zfs-0.6.4.txt":      {"0.6.4", 86},
		"zfs-0.6.5.txt":      {"0.6.5", 91},
		"zfs-0.6.5.11.txt":   {"0.6.5", 91},
		"zfs-0.7.0.txt":      {"0.7.0-0.7.2", 92},
		"zfs-0.7.3.txt":      {"0.7.3-0.7.5", 95},
		"zfs-0.7.6.txt":      {"0.7.6-0.7.13", 96},
		"zfs-0.7.13.txt":     {"0.7.6-0.7.13", 96},
		"zfs-0.8.0.txt":      {"0.8", 98},
		"zfs-0.8.6.txt":      {"0.8", 98},
		"zfs-2.0.0.txt":      {"2.0", 116},
		"zfs-2.0.7.txt":      {"2.0", 116},
		"zfs-2.1.0.txt":      {"2.1", 123},
		"zfs-2.1.16.txt":     {"2.1", 123},
		"zfs-2.2.0.txt":      {"2.2-2.4.2", 147},
		"zfs-2.2.9.txt":      {"2.2-2.4.2", 147},
		"zfs-2.2.11.txt":     {"2.2-2.4.2", 147},
		"zfs-2.3.0.txt":      {"2.2-2.4.2", 147},
		"zfs-2.3.8.txt":      {"2.3.8+/2.4.3+", 148},
		"zfs-2.3.9.txt":      {"2.3.8+/2.4.3+", 148},
		"zfs-2.4.0.txt":      {"2.2-2.4.2", 147},
		"zfs-2.4.3.txt":      {"2.3.8+/2.4.3+", 148},
		"zfs-2.4.4.txt":      {"2.3.8+/2.4.3+", 148},
		"HEAD.txt":           {"2.3.8+/2.4.3+", 148},
	}
	dir := testutil.Fixture(t, "arcstats-fieldlists-by-version")
	files, err := filepath.Glob(filepath.Join(dir, "*.txt"))
	if err != nil {
		t.Fatal(err)
	}
	if len(files) == 0 {
		t.Fatalf("no field lists in %s", dir)
	}
	for _, path := range files {
		base := filepath.Base(path)
		t.Run(base, func(t *testing.T) {
			want, ok := tests[base]
			if !ok {
				t.Fatalf("field list %s has no expected generation in this table", base)
			}
			names := readFieldList(t, path)
			s, err := arcstats.Parse(strings.NewReader(synth(names)))
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			if s.Len() != want.rows {
				t.Errorf("Len = %d, want %d", s.Len(), want.rows)
			}
			if err := s.CheckRows(); err != nil {
				t.Errorf("CheckRows: %v", err)
			}
			if diff := cmp.Diff(names, s.Names()); diff != "" {
				t.Errorf("Names (-list +parsed):\n%s", diff)
			}
			if got := s.Generation(); got != want.gen {
				t.Errorf("Generation = %q, want %q", got, want.gen)
			}
			if slices.Contains(names, "memory_available_bytes") {
				if v, ok := s.Int("memory_available_bytes"); !ok || v != -174063616 {
					t.Errorf("memory_available_bytes = %d, %v", v, ok)
				}
			}
		})
	}
}

// TestLabCaptures reads our own OpenZFS 2.1.11 lab captures through Read,
// from root directories laid out like the host.
func TestLabCaptures(t *testing.T) {
	tests := []struct {
		root   string
		header arcstats.Header
		values map[string]int64
	}{
		{
			root:   labFilled,
			header: arcstats.Header{KID: 12, Type: 1, Flags: 1, NData: 123, DataSize: 33456, CrTime: 17383978910, SnapTime: 139064807390},
			values: map[string]int64{
				"c": 2051639296, "c_max": 2051639296, "c_min": 128227456, "size": 2089128752,
				"memory_direct_count": 0, "memory_indirect_count": 0, "memory_all_bytes": 4103278592,
				"memory_available_bytes": 1633132416, "arc_no_grow": 0, "p": 1008118336, "iohits": absent,
			},
		},
		{
			root:   labPressure,
			header: arcstats.Header{KID: 12, Type: 1, Flags: 1, NData: 123, DataSize: 33456, CrTime: 17383978910, SnapTime: 192188042920},
			values: map[string]int64{
				"c": 141376349, "c_max": 2051639296, "c_min": 128227456, "size": 145602416,
				"memory_direct_count": 9, "memory_indirect_count": 991, "memory_all_bytes": 4103278592,
				"memory_available_bytes": 26644352, "arc_no_grow": 1,
			},
		},
	}
	for _, tt := range tests {
		t.Run(filepath.Base(tt.root), func(t *testing.T) {
			s, err := arcstats.Read(testutil.OpenRoot(t, tt.root))
			if err != nil {
				t.Fatalf("Read: %v", err)
			}
			if s.Header != tt.header {
				t.Errorf("Header = %+v, want %+v", s.Header, tt.header)
			}
			if s.Len() != 123 {
				t.Errorf("Len = %d, want 123", s.Len())
			}
			if err := s.CheckRows(); err != nil {
				t.Errorf("CheckRows: %v", err)
			}
			if g := s.Generation(); g != "2.1" {
				t.Errorf("Generation = %q, want 2.1", g)
			}
			checkValues(t, s, tt.values)
		})
	}
}

func TestMalformed(t *testing.T) {
	const hdr = "12 1 0x01 2 544 17383978910 139064807390\n"
	const cols = "name                            type data\n"
	name32 := "demand_iohit_predictive_prefetch"
	tests := []struct {
		name string
		in   string
		line int
		msg  string
	}{
		{"empty", "", 1, "empty input"},
		{"only newline", "\n", 1, "want 7 fields"},
		{"header short", "12 1 0x01 2 544 17383978910\n" + cols + "c 4 1\n", 1, "want 7 fields"},
		{"header long", "12 1 0x01 2 544 1 2 3\n", 1, "want 7 fields"},
		{"header flags not hex", "12 1 01 2 544 1 2\n", 1, "invalid flags"},
		{"header flags bad digit", "12 1 0xg1 2 544 1 2\n", 1, "invalid flags"},
		{"header flags empty", "12 1 0x 2 544 1 2\n", 1, "invalid flags"},
		{"header flags overflow", "12 1 0x10000000000000000 2 544 1 2\n", 1, "invalid flags"},
		{"header flags uppercase ok, row long", "12 1 0X0A 2 544 1 2\n" + cols + strings.Repeat("x", 300) + "\n", 3, `"...`},
		{"header kid", "x 1 0x01 2 544 1 2\n", 1, "invalid kid"},
		{"header ndata", "12 1 0x01 two 544 1 2\n", 1, "invalid ndata"},
		{"header ndata negative", "12 1 0x01 -2 544 1 2\n", 1, "negative ndata"},
		{"header data_size negative", "12 1 0x01 2 -544 1 2\n", 1, "negative data_size"},
		{"header crtime", "12 1 0x01 2 544 1.5 2\n", 1, "invalid crtime"},
		{"header snaptime overflow", "12 1 0x01 2 544 1 99999999999999999999\n", 1, "invalid snaptime"},
		{"header type raw", "12 0 0x01 2 544 1 2\n", 1, "not KSTAT_TYPE_NAMED"},
		{"header crlf", "12 1 0x01 2 544 1 2\r\n" + cols, 1, `CRLF`},
		{"no name line", hdr, 2, "missing \"name type data\""},
		{"bad name line", hdr + "c 4 1\n", 2, `want the column line "name type data"`},
		{"name line crlf", hdr + "name type data\r\n", 2, "CRLF"},
		{"no rows", hdr + cols, 3, "no stat rows"},
		{"no rows no newline", hdr + "name type data", 3, "no stat rows"},
		{"blank row", hdr + cols + "c 4 1\n\nsize 4 2\n", 4, "blank line"},
		{"blank row at end", hdr + cols + "c 4 1\nsize 4 2\n\n", 5, "blank line"},
		{"spaces row", hdr + cols + "c 4 1\n   \t\n", 4, "blank line"},
		{"two fields", hdr + cols + "c 4\n", 3, "want 3 fields"},
		{"four fields", hdr + cols + "c 4 1\nsize 4 2 3\n", 4, "want 3 fields"},
		{"type 7 string", hdr + cols + "c 4 1\nname 7 zfs\n", 4, "unsupported data type 7"},
		{"type 1 int32", hdr + cols + "c 1 1\n", 3, "unsupported data type 1"},
		{"type word", hdr + cols + "c u64 1\n", 3, `invalid data type "u64"`},
		{"uint negative", hdr + cols + "c 4 -1\n", 3, `invalid uint64 value "-1"`},
		{"uint overflow", hdr + cols + "c 4 18446744073709551616\n", 3, "invalid uint64 value"},
		{"uint plus", hdr + cols + "c 4 +1\n", 3, "invalid uint64 value"},
		{"uint hex", hdr + cols + "c 4 0x10\n", 3, "invalid uint64 value"},
		{"int overflow", hdr + cols + "memory_available_bytes 3 9223372036854775808\n", 3, "invalid int64 value"},
		{"int underflow", hdr + cols + "memory_available_bytes 3 -9223372036854775809\n", 3, "invalid int64 value"},
		{"int bare minus", hdr + cols + "memory_available_bytes 3 -\n", 3, "invalid int64 value"},
		{"duplicate", hdr + cols + "c 4 1\nsize 4 2\nc 4 3\n", 5, `duplicate stat "c" (first on line 3)`},
		{"duplicate 32-char", hdr + cols + name32 + " 4 1\n" + name32 + " 4 2\n", 4, "duplicate stat"},
		{"row crlf", hdr + cols + "c 4 1\r\nsize 4 2\r\n", 3, `line ends in "\r"`},
		{"row crlf last", hdr + cols + "c 4 1\nsize 4 2\r", 4, "CRLF"},
		{"fixed-column garbage", hdr + cols + "c                               4    12 34\n", 3, "want 3 fields"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := arcstats.Parse(strings.NewReader(tt.in))
			if err == nil {
				t.Fatalf("Parse succeeded with %d rows, want error", s.Len())
			}
			var pe *arcstats.ParseError
			if !errors.As(err, &pe) {
				t.Fatalf("error %v (%T) is not a *ParseError", err, err)
			}
			if pe.Line != tt.line {
				t.Errorf("line = %d, want %d (%v)", pe.Line, tt.line, err)
			}
			if !strings.Contains(err.Error(), tt.msg) {
				t.Errorf("error %q does not contain %q", err, tt.msg)
			}
			if want := fmt.Sprintf("line %d: ", tt.line); !strings.HasPrefix(err.Error(), want) {
				t.Errorf("error %q does not start with %q", err, want)
			}
		})
	}
}

func TestValid(t *testing.T) {
	name32 := "demand_iohit_predictive_prefetch"
	tests := []struct {
		name   string
		in     string
		names  []string
		values map[string]int64
	}{
		{
			name:   "no trailing newline",
			in:     "12 1 0x01 2 544 1 2\nname type data\nc 4 5\nsize 4 6",
			names:  []string{"c", "size"},
			values: map[string]int64{"c": 5, "size": 6},
		},
		{
			name:   "32-char name followed by one space",
			in:     "22 1 0x01 2 544 1 2\nname                            type data\n" + name32 + " 4    1325\ndemand_iohit_prescient_prefetch 4    7\n",
			names:  []string{name32, "demand_iohit_prescient_prefetch"},
			values: map[string]int64{name32: 1325, "demand_iohit_prescient_prefetch": 7},
		},
		{
			name:   "tabs and extremes",
			in:     "0 1 0xff 3 0 -1 0\nname\ttype\tdata\na\t4\t18446744073709551615\nb 3 -9223372036854775808\nc 3 9223372036854775807\n",
			names:  []string{"a", "b", "c"},
			values: map[string]int64{"a": math.MaxInt64, "b": math.MinInt64, "c": math.MaxInt64},
		},
		{
			name:   "leading zeros",
			in:     "1 1 0x1 1 0 1 2\nname type data\nc 4 007\n",
			names:  []string{"c"},
			values: map[string]int64{"c": 7},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := arcstats.Parse(strings.NewReader(tt.in))
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			if diff := cmp.Diff(tt.names, s.Names()); diff != "" {
				t.Errorf("Names (-want +got):\n%s", diff)
			}
			for name, want := range tt.values {
				if got, ok := s.Int(name); !ok || got != want {
					t.Errorf("Int(%s) = %d, %v; want %d", name, got, ok, want)
				}
			}
		})
	}
}

func TestSignedUnsignedViews(t *testing.T) {
	in := "1 1 0x01 4 0 1 2\nname type data\n" +
		"big 4 18446744073709551615\n" +
		"neg 3 -174063616\n" +
		"pos 3 42\n" +
		"zero 3 0\n"
	s, err := arcstats.Parse(strings.NewReader(in))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name   string
		u      uint64
		uok    bool
		i      int64
		iok    bool
		hasRow bool
	}{
		{"big", math.MaxUint64, true, math.MaxInt64, true, true}, // Int clamps
		{"neg", 0, false, -174063616, true, true},                // no unsigned reading
		{"pos", 42, true, 42, true, true},
		{"zero", 0, true, 0, true, true},
		{"missing", 0, false, 0, false, false}, // unknown, never zero
	}
	for _, tt := range tests {
		u, uok := s.Uint(tt.name)
		i, iok := s.Int(tt.name)
		if u != tt.u || uok != tt.uok || i != tt.i || iok != tt.iok || s.Has(tt.name) != tt.hasRow {
			t.Errorf("%s: Uint = %d,%v Int = %d,%v Has = %v; want %d,%v %d,%v %v",
				tt.name, u, uok, i, iok, s.Has(tt.name), tt.u, tt.uok, tt.i, tt.iok, tt.hasRow)
		}
	}
	if g := s.Generation(); g != "" {
		t.Errorf("Generation of a non-ARC kstat = %q, want \"\"", g)
	}
}

func TestGenerationNeedsCoreFields(t *testing.T) {
	core := []string{"hits", "misses", "c", "c_min", "c_max", "size"}
	// Core fields alone match no generation.
	s, err := arcstats.Parse(strings.NewReader(synth(core)))
	if err != nil {
		t.Fatal(err)
	}
	if g := s.Generation(); g != "" {
		t.Errorf("core only: Generation = %q, want \"\"", g)
	}
	// A marker without the core fields is not an ARC kstat either.
	s, err = arcstats.Parse(strings.NewReader(synth([]string{"hits", "l2_ndev"})))
	if err != nil {
		t.Fatal(err)
	}
	if g := s.Generation(); g != "" {
		t.Errorf("no core: Generation = %q, want \"\"", g)
	}
	var zero arcstats.Stats
	if g := zero.Generation(); g != "" || zero.Len() != 0 || zero.Has("c") || zero.CheckRows() != nil {
		t.Errorf("zero Stats: Generation %q Len %d", g, zero.Len())
	}
}

func TestReadNotLoaded(t *testing.T) {
	root := t.TempDir()
	for _, setup := range []string{"", "proc/spl/kstat", "proc/spl/kstat/zfs"} {
		if setup != "" {
			if err := os.MkdirAll(filepath.Join(root, setup), 0o755); err != nil {
				t.Fatal(err)
			}
		}
		s, err := arcstats.Read(testutil.OpenRoot(t, root))
		if s != nil || !errors.Is(err, arcstats.ErrNotLoaded) || !errors.Is(err, fs.ErrNotExist) {
			t.Fatalf("with %q: Read = %v, %v; want ErrNotLoaded", setup, s, err)
		}
		// The error names the file; the hint ("is the zfs module loaded?")
		// is the command's to give, once.
		if want := filepath.Join(root, arcstats.Path) + ": zfs module not loaded: file does not exist"; err.Error() != want {
			t.Errorf("error %q, want %q", err, want)
		}
	}
}

func TestReadErrors(t *testing.T) {
	// A reader that fails is reported as a read error, not a parse error.
	_, err := arcstats.Parse(iotest.ErrReader(errors.New("boom")))
	var pe *arcstats.ParseError
	if err == nil || errors.As(err, &pe) || !strings.Contains(err.Error(), "reading arcstats: boom") {
		t.Errorf("Parse(failing reader) = %v", err)
	}
	// Reading a directory fails while reading, and names the path.
	dirRoot := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dirRoot, arcstats.Path), 0o755); err != nil {
		t.Fatal(err)
	}
	_, err = arcstats.Read(testutil.OpenRoot(t, dirRoot))
	if err == nil || !strings.HasPrefix(err.Error(), filepath.Join(dirRoot, arcstats.Path)+": ") {
		t.Errorf("Read(arcstats is a directory) = %v", err)
	}
}

func TestReadParseErrorNamesPath(t *testing.T) {
	root := t.TempDir()
	path := filepath.Join(root, arcstats.Path)
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte("12 1 0x01 2 544 1 2\nname type data\nc 4 1\nsize 9 2\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := arcstats.Read(testutil.OpenRoot(t, root))
	var pe *arcstats.ParseError
	if !errors.As(err, &pe) || pe.File != path || pe.Line != 4 {
		t.Fatalf("Read error = %#v", err)
	}
	if want := path + ":4: size: unsupported data type 9"; !strings.HasPrefix(err.Error(), want) {
		t.Errorf("error %q does not start with %q", err, want)
	}
	if errors.Is(err, arcstats.ErrNotLoaded) {
		t.Error("a parse error must not be ErrNotLoaded")
	}
}

func TestReadTooLarge(t *testing.T) {
	big := bytes.Repeat([]byte("x 4 1\n"), (1<<20)/6+10)
	_, err := arcstats.Parse(bytes.NewReader(big))
	if err == nil || !strings.Contains(err.Error(), "not an arcstats file") {
		t.Fatalf("Parse of %d bytes: %v", len(big), err)
	}
}

func BenchmarkParse(b *testing.B) {
	data, err := os.ReadFile(filepath.Join(labFilled, arcstats.Path))
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := arcstats.Parse(bytes.NewReader(data)); err != nil {
			b.Fatal(err)
		}
	}
}
