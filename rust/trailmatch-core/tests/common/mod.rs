//! Helpers shared by the integration tests: the corpora and samples under `tests/data`, and a
//! counting global allocator for the allocation tests.

// Each test binary uses some of these helpers only.
#![allow(dead_code)]
// The allocator must implement `GlobalAlloc`, an unsafe trait.
#![allow(unsafe_code)]

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::path::PathBuf;

/// `tests/data` of the repository.
pub fn data_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/data")
}

/// Every case of the JSON Lines files of `tests/data/<corpus>`, in file-name and line order.
pub fn jsonl<T: serde::de::DeserializeOwned>(corpus: &str) -> Vec<T> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(data_dir().join(corpus))
        .expect("corpus directory")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.extension().is_some_and(|x| x == "jsonl"))
        .collect();
    files.sort();
    let mut cases = Vec::new();
    for file in files {
        let content = std::fs::read_to_string(&file).expect("readable corpus file");
        for (i, line) in content.lines().enumerate() {
            if line.trim().is_empty() {
                continue;
            }
            let case = serde_json::from_str(line).unwrap_or_else(|e| panic!("{}:{}: {e}", file.display(), i + 1));
            cases.push(case);
        }
    }
    cases
}

/// The records of the invictus-ir CloudTrail files (2,900 real records), as compact JSON.
pub fn invictus_records() -> Vec<Vec<u8>> {
    let dir = data_dir().join("cloudtrail/invictus-ir_aws_dataset/CloudTrail");
    let mut files: Vec<_> = std::fs::read_dir(dir).expect("samples").map(|e| e.expect("entry").path()).collect();
    files.sort();
    let mut out = Vec::new();
    for file in files {
        let doc: serde_json::Value = serde_json::from_slice(&std::fs::read(file).expect("file")).expect("json");
        for r in doc["Records"].as_array().expect("Records") {
            out.push(serde_json::to_vec(r).expect("record"));
        }
    }
    out
}

/// A global allocator that counts the allocations of each thread (tests run in parallel
/// threads of one process). Install it with
/// `#[global_allocator] static GLOBAL: common::Counting = common::Counting;`.
pub struct Counting;

thread_local! {
    static ALLOCATIONS: Cell<usize> = const { Cell::new(0) };
}

fn count() {
    // `try_with`: the slot may be gone while a thread is being torn down.
    let _ = ALLOCATIONS.try_with(|c| c.set(c.get() + 1));
}

/// Allocations made so far by the calling thread.
pub fn allocations() -> usize {
    ALLOCATIONS.with(Cell::get)
}

// SAFETY: every method forwards to `System` with the caller's arguments unchanged, so the
// contract of `GlobalAlloc` (valid layouts in, valid or null pointers out, deallocation of
// pointers this allocator returned) is exactly `System`'s; the counter is a const-initialised
// thread-local cell, which never allocates.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        count();
        // SAFETY: same layout as our caller gave us (see above).
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: `ptr` came from `System.alloc` via `alloc` above with this layout.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        count();
        // SAFETY: `ptr` and `layout` come from this allocator, as `System` requires.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}
