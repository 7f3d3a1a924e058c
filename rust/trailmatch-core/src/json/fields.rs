//! The tree of field paths that some rule references ("fields used").
//!
//! Paths are keys joined with `.`, so the event key `"a.b"` and the nested keys `a` → `b` name
//! the same path (EventBridge compiles dotted keys that way). The tree is therefore keyed by
//! dot-separated *segments*: the scanner splits an event key on `.` and walks one segment at
//! a time, and a key that leads nowhere lets the scanner skip its whole value unread.

use rustc_hash::FxHashMap;

/// Interned id of a referenced path.
pub type PathId = u32;

/// Index of a node of the tree; [`FieldTree::ROOT`] is the event's top-level object.
pub type FieldNode = u32;

/// The children of a node in a direct-mapped table indexed by a hash of (length, first byte,
/// last byte) of their segments, chained on collisions. Most event keys are referenced by no
/// rule: for them the slot is empty (one load) or holds a different key (one inline
/// comparison); a referenced key is found in the same step, without hashing its bytes.
#[derive(Debug, Clone, Default)]
struct Children {
    /// A power of two of slots (four to sixteen per child) or none: 0 for empty, otherwise one
    /// more than the index of the slot's first entry.
    table: Box<[u32]>,
    /// (segment, node, one more than the index of the next entry in the same slot, or 0).
    entries: Vec<(Box<[u8]>, FieldNode, u32)>,
}

#[inline]
fn slot_hash(segment: &[u8]) -> usize {
    let (first, last) = (segment.first().copied().unwrap_or(0), segment.last().copied().unwrap_or(0));
    let key = segment.len() as u64 | u64::from(first) << 16 | u64::from(last) << 24;
    // Fibonacci hashing: the top bits of the product are the well-mixed ones.
    (key.wrapping_mul(0x9e37_79b9_7f4a_7c15) >> 40) as usize
}

impl Children {
    /// The empty-slot test is inlined where keys are read (it turns most keys away); the
    /// chain is walked out of line.
    #[inline]
    fn get(&self, segment: &[u8]) -> Option<FieldNode> {
        let mask = self.table.len().wrapping_sub(1);
        match *self.table.get(slot_hash(segment) & mask)? {
            0 => None,
            i => self.find(i, segment),
        }
    }

    #[inline(never)]
    fn find(&self, mut i: u32, segment: &[u8]) -> Option<FieldNode> {
        while i != 0 {
            let (key, node, next) = &self.entries[i as usize - 1];
            if super::simd::bytes_eq(key, segment) {
                return Some(*node);
            }
            i = *next;
        }
        None
    }

    fn insert(&mut self, segment: &[u8], node: FieldNode) {
        self.entries.push((segment.into(), node, 0));
        if self.entries.len() * 4 > self.table.len() {
            self.rebuild();
        } else {
            let i = self.entries.len() - 1;
            let slot = &mut self.table[slot_hash(segment) & (self.table.len() - 1)];
            self.entries[i].2 = *slot;
            *slot = i as u32 + 1;
        }
    }

    fn remove(&mut self, segment: &[u8]) {
        let Some(i) = self.entries.iter().position(|(k, _, _)| **k == *segment) else {
            return;
        };
        // Unlink entry `i`, move the last entry into its place and relink that one.
        let next = self.entries[i].2;
        self.relink(segment, i as u32 + 1, next);
        let last = self.entries.len() - 1;
        if i != last {
            let moved = self.entries[last].0.clone();
            self.relink(&moved, last as u32 + 1, i as u32 + 1);
        }
        self.entries.swap_remove(i);
        if self.entries.len() * 16 < self.table.len() {
            self.rebuild();
        }
    }

    /// Replaces the reference to entry `from` (1-based) in `segment`'s chain by `to`.
    fn relink(&mut self, segment: &[u8], from: u32, to: u32) {
        let slot = slot_hash(segment) & (self.table.len() - 1);
        if self.table[slot] == from {
            self.table[slot] = to;
            return;
        }
        let mut i = self.table[slot];
        while i != 0 {
            let entry = &mut self.entries[i as usize - 1];
            if entry.2 == from {
                entry.2 = to;
                return;
            }
            i = entry.2;
        }
        unreachable!("a filed entry is in its slot's chain");
    }

    /// Re-files every entry in a table of at least four slots per entry.
    fn rebuild(&mut self) {
        let size = if self.entries.is_empty() { 0 } else { (self.entries.len() * 8).next_power_of_two() };
        let mut table = vec![0u32; size];
        for (i, entry) in self.entries.iter_mut().enumerate() {
            let slot = &mut table[slot_hash(&entry.0) & (size - 1)];
            entry.2 = *slot;
            *slot = i as u32 + 1;
        }
        self.table = table.into_boxed_slice();
    }

    fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

#[derive(Debug, Clone)]
struct Node {
    children: Children,
    /// The path that ends here, if some rule references it as a leaf.
    path: Option<PathId>,
    parent: FieldNode,
    segment: Box<[u8]>,
    /// Number of referenced paths at or below this node.
    refs: u32,
    /// This node's bit among its parent's children, for early exit ([`NO_SLOT`] if none).
    slot: u8,
    /// Bits of the children that have one.
    child_slots: u64,
    /// Children without a slot (more than 64): the node can never be known complete.
    unslotted: u32,
}

impl Default for Node {
    fn default() -> Self {
        Node {
            children: Children::default(),
            path: None,
            parent: 0,
            segment: Box::default(),
            refs: 0,
            slot: NO_SLOT,
            child_slots: 0,
            unslotted: 0,
        }
    }
}

/// A node without a bit in its parent's mask.
pub const NO_SLOT: u8 = u8::MAX;

/// The referenced paths, interned.
///
/// # Example
///
/// ```
/// use trailmatch_core::json::fields::FieldTree;
///
/// let mut tree = FieldTree::new();
/// let id = tree.intern(b"detail.eventName");
/// let detail = tree.child(FieldTree::ROOT, b"detail").unwrap();
/// let name = tree.child(detail, b"eventName").unwrap();
/// assert_eq!(tree.path_at(name), Some(id));
/// // A dotted event key reaches the same node.
/// assert_eq!(tree.lookup_key(FieldTree::ROOT, b"detail.eventName"), Some(name));
/// ```
#[derive(Debug, Clone)]
pub struct FieldTree {
    /// Exact trees ([`FieldTree::exact`]): dotted event keys are plain keys, and object and
    /// array values at referenced paths are reported.
    exact: bool,
    nodes: Vec<Node>,
    free_nodes: Vec<FieldNode>,
    paths: FxHashMap<Box<[u8]>, (PathId, u32)>,
    path_names: Vec<Box<[u8]>>,
    free_paths: Vec<PathId>,
}

impl Default for FieldTree {
    fn default() -> Self {
        Self::new()
    }
}

impl FieldTree {
    /// The node of the event's top-level object.
    pub const ROOT: FieldNode = 0;

    /// An empty tree.
    pub fn new() -> Self {
        FieldTree {
            exact: false,
            nodes: vec![Node::default()],
            free_nodes: Vec::new(),
            paths: FxHashMap::default(),
            path_names: Vec::new(),
            free_paths: Vec::new(),
        }
    }

    /// An empty tree for JSONPath-like selectors (CloudWatch Logs filter patterns): an event
    /// key containing dots is one key (it reaches no interned path, whose keys have no dots),
    /// and the scanner reports objects and arrays found at referenced paths as
    /// [`Leaf::Object`](super::scan::Leaf::Object) / [`Leaf::Array`](super::scan::Leaf::Array).
    ///
    /// # Example
    ///
    /// ```
    /// use trailmatch_core::json::fields::FieldTree;
    ///
    /// let mut tree = FieldTree::exact();
    /// tree.intern(b"a.b");
    /// assert_eq!(tree.lookup_key(FieldTree::ROOT, b"a.b"), None);
    /// assert!(tree.lookup_key(FieldTree::ROOT, b"a").is_some());
    /// ```
    pub fn exact() -> Self {
        FieldTree { exact: true, ..Self::new() }
    }

    /// True for trees made with [`FieldTree::exact`].
    #[inline]
    pub fn is_exact(&self) -> bool {
        self.exact
    }

    /// Interns `path` (keys joined with `.`), adding a reference; returns its id.
    pub fn intern(&mut self, path: &[u8]) -> PathId {
        if let Some((id, refs)) = self.paths.get_mut(path) {
            *refs += 1;
            return *id;
        }
        let id = match self.free_paths.pop() {
            Some(id) => {
                self.path_names[id as usize] = path.into();
                id
            }
            None => {
                self.path_names.push(path.into());
                (self.path_names.len() - 1) as PathId
            }
        };
        self.paths.insert(path.into(), (id, 1));
        let mut node = Self::ROOT;
        self.nodes[node as usize].refs += 1;
        for segment in path.split(|&b| b == b'.') {
            node = match self.nodes[node as usize].children.get(segment) {
                Some(child) => child,
                None => {
                    let child = self.new_node(node, segment);
                    self.nodes[node as usize].children.insert(segment, child);
                    child
                }
            };
            self.nodes[node as usize].refs += 1;
        }
        self.nodes[node as usize].path = Some(id);
        id
    }

    fn new_node(&mut self, parent: FieldNode, segment: &[u8]) -> FieldNode {
        let free = !self.nodes[parent as usize].child_slots;
        let slot = if free == 0 { NO_SLOT } else { free.trailing_zeros() as u8 };
        if slot == NO_SLOT {
            self.nodes[parent as usize].unslotted += 1;
        } else {
            self.nodes[parent as usize].child_slots |= 1 << slot;
        }
        let node = Node { parent, segment: segment.into(), slot, ..Node::default() };
        match self.free_nodes.pop() {
            Some(n) => {
                self.nodes[n as usize] = node;
                n
            }
            None => {
                self.nodes.push(node);
                (self.nodes.len() - 1) as FieldNode
            }
        }
    }

    /// Drops one reference to `path`; returns `true` if it is no longer referenced.
    pub fn release(&mut self, path: &[u8]) -> bool {
        let Some((id, refs)) = self.paths.get_mut(path) else {
            return false;
        };
        *refs -= 1;
        if *refs > 0 {
            return false;
        }
        let id = *id;
        self.paths.remove(path);
        self.free_paths.push(id);
        // Walk down to the end node, then prune unreferenced nodes upwards.
        let mut node = Self::ROOT;
        for segment in path.split(|&b| b == b'.') {
            node = self.nodes[node as usize].children.get(segment).expect("interned path has nodes");
        }
        self.nodes[node as usize].path = None;
        loop {
            let n = &mut self.nodes[node as usize];
            n.refs -= 1;
            if node == Self::ROOT {
                break;
            }
            let parent = n.parent;
            if n.refs == 0 {
                debug_assert!(n.children.is_empty());
                let segment = std::mem::take(&mut n.segment);
                let slot = n.slot;
                let p = &mut self.nodes[parent as usize];
                p.children.remove(&segment);
                if slot == NO_SLOT {
                    p.unslotted -= 1;
                } else {
                    p.child_slots &= !(1 << slot);
                }
                self.free_nodes.push(node);
            }
            node = parent;
        }
        true
    }

    /// The id of an interned path.
    pub fn id(&self, path: &[u8]) -> Option<PathId> {
        self.paths.get(path).map(|(id, _)| *id)
    }

    /// The text of an interned path.
    pub fn name(&self, id: PathId) -> &[u8] {
        &self.path_names[id as usize]
    }

    /// One more than the largest path id ever handed out.
    pub fn path_capacity(&self) -> usize {
        self.path_names.len()
    }

    /// The child of `node` for one key segment (no dots).
    #[inline]
    pub fn child(&self, node: FieldNode, segment: &[u8]) -> Option<FieldNode> {
        self.nodes[node as usize].children.get(segment)
    }

    /// The node reached from `node` by an event key, which may contain dots.
    #[inline]
    pub fn lookup_key(&self, node: FieldNode, key: &[u8]) -> Option<FieldNode> {
        self.lookup_key_dotted(node, key, memchr::memchr(b'.', key).is_some())
    }

    /// [`FieldTree::lookup_key`] when the caller already knows whether `key` contains a dot.
    #[inline]
    pub fn lookup_key_dotted(&self, node: FieldNode, key: &[u8], dotted: bool) -> Option<FieldNode> {
        if !dotted {
            return self.child(node, key);
        }
        if self.exact {
            return None;
        }
        let mut n = node;
        for segment in key.split(|&b| b == b'.') {
            n = self.child(n, segment)?;
        }
        Some(n)
    }

    /// The referenced path ending at `node`, if any.
    #[inline]
    pub fn path_at(&self, node: FieldNode) -> Option<PathId> {
        self.nodes[node as usize].path
    }

    /// True if some referenced path continues below `node` (so an object value there must be
    /// read).
    #[inline]
    pub fn has_children(&self, node: FieldNode) -> bool {
        !self.nodes[node as usize].children.is_empty()
    }

    /// The bit of `node` among its parent's children ([`NO_SLOT`] if it has none).
    #[inline]
    pub fn slot(&self, node: FieldNode) -> u8 {
        self.nodes[node as usize].slot
    }

    /// The bits of all children of `node`, or `None` if some child has no bit (then the
    /// scanner can never know it has seen them all).
    #[inline]
    pub fn child_mask(&self, node: FieldNode) -> Option<u64> {
        let n = &self.nodes[node as usize];
        (n.unslotted == 0).then_some(n.child_slots)
    }

    /// True if no path is referenced.
    pub fn is_empty(&self) -> bool {
        self.paths.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn intern_release_prunes() {
        let mut t = FieldTree::new();
        let a = t.intern(b"a.b.c");
        let b = t.intern(b"a.b");
        assert_ne!(a, b);
        assert_eq!(t.intern(b"a.b"), b);
        assert!(!t.release(b"a.b"));
        assert!(t.release(b"a.b"));
        let ab = t.lookup_key(FieldTree::ROOT, b"a.b").unwrap();
        assert_eq!(t.path_at(ab), None);
        assert!(t.has_children(ab));
        assert!(t.release(b"a.b.c"));
        assert!(t.child(FieldTree::ROOT, b"a").is_none());
        assert!(t.is_empty());
        // Ids are reused.
        let c = t.intern(b"x");
        assert!(c == a || c == b);
    }

    #[test]
    fn empty_segments_are_paths_too() {
        let mut t = FieldTree::new();
        let id = t.intern(b"a.");
        let n = t.lookup_key(FieldTree::ROOT, b"a.").unwrap();
        assert_eq!(t.path_at(n), Some(id));
        let a = t.child(FieldTree::ROOT, b"a").unwrap();
        assert_eq!(t.path_at(t.child(a, b"").unwrap()), Some(id));
    }

    #[test]
    fn children_get_distinct_slots_that_are_reused() {
        let mut t = FieldTree::new();
        t.intern(b"a");
        t.intern(b"b");
        let (a, b) = (t.child(FieldTree::ROOT, b"a").unwrap(), t.child(FieldTree::ROOT, b"b").unwrap());
        assert_ne!(t.slot(a), t.slot(b));
        assert_eq!(t.child_mask(FieldTree::ROOT), Some((1 << t.slot(a)) | (1 << t.slot(b))));
        let freed = t.slot(a);
        t.release(b"a");
        t.intern(b"c");
        assert_eq!(t.slot(t.child(FieldTree::ROOT, b"c").unwrap()), freed);
        for i in 0..70 {
            t.intern(format!("k{i}").as_bytes());
        }
        assert_eq!(t.child_mask(FieldTree::ROOT), None);
    }

    #[test]
    fn children_survive_any_order_of_adds_and_removes() {
        let mut next = crate::testing::xorshift(0x5eed);
        let mut t = FieldTree::new();
        let mut live: std::collections::BTreeMap<String, PathId> = std::collections::BTreeMap::new();
        for step in 0..20_000u32 {
            // Few distinct lengths and end bytes: long chains.
            let key = format!("k{}z", next() % 300);
            if next().is_multiple_of(3) {
                if live.remove(&key).is_some() {
                    t.release(key.as_bytes());
                }
            } else if !live.contains_key(&key) {
                live.insert(key.clone(), t.intern(key.as_bytes()));
            }
            if step.is_multiple_of(1000) {
                for i in 0..300 {
                    let key = format!("k{i}z");
                    let found = t.child(FieldTree::ROOT, key.as_bytes()).and_then(|n| t.path_at(n));
                    assert_eq!(found, live.get(&key).copied(), "step {step}, {key}");
                }
            }
        }
    }

    #[test]
    fn many_children_with_colliding_slots_are_all_found() {
        let mut t = FieldTree::new();
        let ids: Vec<PathId> = (0..50).map(|i| t.intern(format!("k{i}").as_bytes())).collect();
        for (i, id) in ids.iter().enumerate() {
            let n = t.child(FieldTree::ROOT, format!("k{i}").as_bytes()).unwrap();
            assert_eq!(t.path_at(n), Some(*id));
        }
        // Same length, first and last byte: one slot, a chain of fifty.
        let same: Vec<PathId> = (0..50).map(|i| t.intern(format!("x{i:03}y").as_bytes())).collect();
        for (i, id) in same.iter().enumerate() {
            let n = t.child(FieldTree::ROOT, format!("x{i:03}y").as_bytes()).unwrap();
            assert_eq!(t.path_at(n), Some(*id));
        }
        assert_eq!(t.child(FieldTree::ROOT, b"x050y"), None);
        t.release(b"x007y");
        assert_eq!(t.child(FieldTree::ROOT, b"x007y"), None);
        assert!(t.child(FieldTree::ROOT, b"x008y").is_some());
    }
}
