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

/// Up to this many children are kept in a vector and compared directly; above it, hashed.
const SMALL: usize = 8;

#[derive(Debug, Clone, Default)]
enum ChildMap {
    #[default]
    None,
    Small(Vec<(Box<[u8]>, FieldNode)>),
    Hashed(FxHashMap<Box<[u8]>, FieldNode>),
}

impl ChildMap {
    #[inline]
    fn get(&self, segment: &[u8]) -> Option<FieldNode> {
        match self {
            ChildMap::None => None,
            ChildMap::Small(v) => v.iter().find(|(k, _)| **k == *segment).map(|(_, n)| *n),
            ChildMap::Hashed(m) => m.get(segment).copied(),
        }
    }

    fn insert(&mut self, segment: &[u8], node: FieldNode) {
        match self {
            ChildMap::None => *self = ChildMap::Small(vec![(segment.into(), node)]),
            ChildMap::Small(v) => {
                v.push((segment.into(), node));
                if v.len() > SMALL {
                    *self = ChildMap::Hashed(v.drain(..).collect());
                }
            }
            ChildMap::Hashed(m) => {
                m.insert(segment.into(), node);
            }
        }
    }

    fn remove(&mut self, segment: &[u8]) {
        match self {
            ChildMap::None => {}
            ChildMap::Small(v) => {
                v.retain(|(k, _)| **k != *segment);
                if v.is_empty() {
                    *self = ChildMap::None;
                }
            }
            ChildMap::Hashed(m) => {
                m.remove(segment);
            }
        }
    }

    fn is_empty(&self) -> bool {
        match self {
            ChildMap::None => true,
            ChildMap::Small(v) => v.is_empty(),
            ChildMap::Hashed(m) => m.is_empty(),
        }
    }
}

/// The children of a node, behind a 256-bit filter on (length, first byte, last byte) of their
/// segments: most event keys are referenced by no rule, and the filter turns almost all of
/// them away with one bit test, before any hashing or comparison.
#[derive(Debug, Clone, Default)]
struct Children {
    filter: [u64; 4],
    map: ChildMap,
}

#[inline]
fn filter_bit(segment: &[u8]) -> usize {
    let (first, last) = (segment.first().copied().unwrap_or(0), segment.last().copied().unwrap_or(0));
    (segment.len().wrapping_mul(31) ^ usize::from(first).wrapping_mul(7) ^ usize::from(last).wrapping_mul(131)) & 255
}

impl Children {
    #[inline]
    fn get(&self, segment: &[u8]) -> Option<FieldNode> {
        let bit = filter_bit(segment);
        if self.filter[bit >> 6] & (1 << (bit & 63)) == 0 {
            return None;
        }
        self.map.get(segment)
    }

    fn insert(&mut self, segment: &[u8], node: FieldNode) {
        let bit = filter_bit(segment);
        self.filter[bit >> 6] |= 1 << (bit & 63);
        self.map.insert(segment, node);
    }

    fn remove(&mut self, segment: &[u8]) {
        self.map.remove(segment);
        self.filter = [0; 4];
        let mut keys: Vec<Box<[u8]>> = Vec::new();
        match &self.map {
            ChildMap::None => {}
            ChildMap::Small(v) => keys.extend(v.iter().map(|(k, _)| k.clone())),
            ChildMap::Hashed(m) => keys.extend(m.keys().cloned()),
        }
        for k in keys {
            let bit = filter_bit(&k);
            self.filter[bit >> 6] |= 1 << (bit & 63);
        }
    }

    fn is_empty(&self) -> bool {
        self.map.is_empty()
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
    fn many_children_switch_to_hashing() {
        let mut t = FieldTree::new();
        let ids: Vec<PathId> = (0..50).map(|i| t.intern(format!("k{i}").as_bytes())).collect();
        for (i, id) in ids.iter().enumerate() {
            let n = t.child(FieldTree::ROOT, format!("k{i}").as_bytes()).unwrap();
            assert_eq!(t.path_at(n), Some(*id));
        }
    }
}
