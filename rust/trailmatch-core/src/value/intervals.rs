//! A static index of closed intervals answering "which intervals contain this point?".
//!
//! Numeric ranges and CIDR blocks on one field are stored here. Intervals are sorted by their
//! lower bound; a max-tree over upper bounds (in that order) lets a stabbing query visit only
//! subtrees that can contain a hit, so a query costs O((k + 1) · log n) for k hits, instead of
//! O(n) for a scan. The index is rebuilt (O(n log n)) when the field's intervals change.

/// An interval index over keys of type `K` carrying `u32` values.
///
/// # Example
///
/// ```
/// use trailmatch_core::value::intervals::IntervalIndex;
///
/// let index = IntervalIndex::new(vec![(0u64, 10, 1), (5, 7, 2), (20, 30, 3)]);
/// let mut hits = Vec::new();
/// index.stab(6, |v| hits.push(v));
/// hits.sort();
/// assert_eq!(hits, vec![1, 2]);
/// ```
#[derive(Debug, Clone, Default)]
pub struct IntervalIndex<K> {
    lo: Vec<K>,
    hi: Vec<K>,
    values: Vec<u32>,
    /// `tree[1]` is the root; node `i` has children `2i`, `2i + 1`; leaves start at `size`.
    /// Each node holds the largest upper bound in its subtree (`None` for padding).
    tree: Vec<Option<K>>,
    size: usize,
}

/// Below this many intervals a linear scan is faster than the tree.
const LINEAR: usize = 8;

impl<K: Ord + Copy> IntervalIndex<K> {
    /// Builds the index from `(lo, hi, value)` triples (inclusive bounds; `lo > hi` is empty).
    pub fn new(mut items: Vec<(K, K, u32)>) -> Self {
        items.retain(|(lo, hi, _)| lo <= hi);
        items.sort_by_key(|item| item.0);
        let n = items.len();
        let mut lo = Vec::with_capacity(n);
        let mut hi = Vec::with_capacity(n);
        let mut values = Vec::with_capacity(n);
        for (l, h, v) in items {
            lo.push(l);
            hi.push(h);
            values.push(v);
        }
        let mut size = 1;
        while size < n {
            size *= 2;
        }
        let mut tree = Vec::new();
        if n > LINEAR {
            tree = vec![None; 2 * size];
            for (i, h) in hi.iter().enumerate() {
                tree[size + i] = Some(*h);
            }
            for i in (1..size).rev() {
                tree[i] = tree[2 * i].max(tree[2 * i + 1]);
            }
        }
        IntervalIndex { lo, hi, values, tree, size }
    }

    /// Number of (non-empty) intervals.
    pub fn len(&self) -> usize {
        self.lo.len()
    }

    /// True if there are no intervals.
    pub fn is_empty(&self) -> bool {
        self.lo.is_empty()
    }

    /// Calls `hit` with the value of every interval containing `point`.
    pub fn stab(&self, point: K, mut hit: impl FnMut(u32)) {
        // Only intervals starting at or before the point can contain it.
        let end = self.lo.partition_point(|&l| l <= point);
        if end == 0 {
            return;
        }
        if self.tree.is_empty() {
            for i in 0..end {
                if self.hi[i] >= point {
                    hit(self.values[i]);
                }
            }
            return;
        }
        // Depth-first over nodes whose leaf range intersects [0, end) and whose max ≥ point.
        let mut stack: [(usize, usize, usize); 64] = [(0, 0, 0); 64];
        let mut top = 0;
        stack[top] = (1, 0, self.size);
        top += 1;
        while top > 0 {
            top -= 1;
            let (node, first, width) = stack[top];
            if first >= end || self.tree[node].is_none_or(|m| m < point) {
                continue;
            }
            if width == 1 {
                hit(self.values[first]);
                continue;
            }
            let half = width / 2;
            stack[top] = (2 * node + 1, first + half, half);
            stack[top + 1] = (2 * node, first, half);
            top += 2;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn brute(items: &[(u64, u64, u32)], p: u64) -> Vec<u32> {
        let mut v: Vec<u32> = items.iter().filter(|(l, h, _)| *l <= p && p <= *h).map(|t| t.2).collect();
        v.sort_unstable();
        v
    }

    #[test]
    fn agrees_with_brute_force() {
        let mut rnd = crate::testing::xorshift(12345);
        for n in [0usize, 1, 5, 9, 33, 200] {
            let items: Vec<(u64, u64, u32)> = (0..n)
                .map(|i| {
                    let a = rnd() % 1000;
                    let b = a + rnd() % 100;
                    (a, b, i as u32)
                })
                .collect();
            let index = IntervalIndex::new(items.clone());
            for p in 0..1100 {
                let mut got = Vec::new();
                index.stab(p, |v| got.push(v));
                got.sort_unstable();
                assert_eq!(got, brute(&items, p), "n={n} p={p}");
            }
        }
    }
}
