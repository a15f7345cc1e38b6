package arcstats

// generations lists, newest first, the field-set generations of the Linux
// arcstats kstat and, for each, fields that first appeared in it (any one
// present is enough). The field lists come from the arc_stats initialiser in
// module/zfs/arc.c at every openzfs/zfs release tag.
var generations = []struct {
	name    string
	markers []string
}{
	{"2.3.8+/2.4.3+", []string{"l2_ndev"}},
	{"2.2-2.4.2", []string{"iohits", "uncached_hits", "demand_iohit_predictive_prefetch"}},
	{"2.1", []string{"evict_l2_eligible_mfu", "evict_l2_eligible_mru", "l2_mfu_asize"}},
	{"2.0", []string{"l2_rebuild_success", "l2_log_blk_writes", "abd_chunk_waste_size"}},
	{"0.8", []string{"arc_raw_size", "async_upgrade_sync", "demand_hit_prescient_prefetch"}},
	{"0.7.6-0.7.13", []string{"access_skip"}},
	// Not memory_available_bytes: node_exporter's test file adds that one
	// row to a 0.6.5 field set.
	{"0.7.3-0.7.5", []string{"memory_all_bytes", "memory_free_bytes"}},
	{"0.7.0-0.7.2", []string{"compressed_size", "uncompressed_size", "dbuf_size"}},
	{"0.6.5", []string{"arc_sys_free", "evict_not_enough", "metadata_size"}},
	{"0.6.4", []string{"l2_cdata_free_on_write"}},
	{"0.6.3", []string{"meta_size"}},
	{"0.6.2", []string{"l2_asize", "l2_compress_successes"}},
	{"0.6.0-0.6.1", []string{"recycle_miss", "l2_writes_hdr_miss"}},
}

// coreFields are in arcstats of every version; without them the input is
// not an ARC kstat and has no generation.
var coreFields = []string{"hits", "misses", "c", "c_min", "c_max", "size"}

// Generation returns a best-effort name for the release range whose field
// set the file matches, judged by the newest fields present:
//
//	"0.6.0-0.6.1" "0.6.2" "0.6.3" "0.6.4" "0.6.5" "0.7.0-0.7.2" "0.7.3-0.7.5"
//	"0.7.6-0.7.13" "0.8" "2.0" "2.1" "2.2-2.4.2" "2.3.8+/2.4.3+"
//
// "2.2-2.4.2" covers 2.2.x, 2.3.0-2.3.7 and 2.4.0-2.4.2, which export the
// same 147 fields; l2_ndev arrived in 2.3.8 and 2.4.3. It returns "" when the
// core ARC fields (hits, misses, c, c_min, c_max, size) are missing or no
// generation's fields are present. The module's own version string is in
// /sys/module/zfs/version; this is a cross-check and a fallback.
func (s *Stats) Generation() string {
	for _, f := range coreFields {
		if !s.Has(f) {
			return ""
		}
	}
	for _, g := range generations {
		for _, m := range g.markers {
			if s.Has(m) {
				return g.name
			}
		}
	}
	return ""
}
