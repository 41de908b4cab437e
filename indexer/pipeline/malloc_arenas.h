// How many malloc arenas the process keeps (glibc). By default glibc gives a
// thread that finds the other arenas busy an arena of its own, up to 8 per
// core, and an arena other than the main one keeps the free memory at the
// top of its heap (up to 64 MB each): malloc_trim gives back what is free
// inside every arena but not that. Each decoder (and each libvips worker
// thread it uses) then sits on the high-water mark of its last large photo
// after that photo is done, beside the next decode in another arena that
// cannot reuse it. bench/indexing_bench.sh on the wallpapers, 2 decoders,
// alternating runs: peak 181-222 MB above the model with glibc's default,
// 126-153 MB with 2 arenas, images/s within the shared machine's noise
// (README, Performance). Fixing the trim threshold instead (arenas kept)
// made the model's own peak 175 MB higher.
#pragma once

namespace imgsearchd {

// The arenas imgsearchd allows, shared by every thread: the main one (where
// the model's weights live) and one more. A decode makes few large
// allocations, and glibc's per-thread cache serves most small ones without
// taking an arena's lock.
inline constexpr int kMallocArenas = 2;

// Limits malloc to kMallocArenas unless the user chose (MALLOC_ARENA_MAX, or
// glibc.malloc.arena_max in GLIBC_TUNABLES). Call first thing in main, before
// any thread starts (threads keep the arena they were given). Returns whether
// it set the limit. Does nothing where the C library is not glibc.
bool limit_malloc_arenas();

}  // namespace imgsearchd
