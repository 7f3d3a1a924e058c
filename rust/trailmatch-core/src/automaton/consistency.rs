//! Array-consistent matching: may one rule use these leaves together?
//!
//! EventBridge never combines fields taken from *different elements of the same array*. Each
//! leaf carries an array context ([`Ctx`]): contexts form a tree (an element of an array that
//! sits inside an element of another array is a child of that element), and a set of leaves is
//! consistent iff, for every array, all chosen leaves under it sit in one element.
//!
//! `exists: false` interacts with this the way event-ruler evaluates it: fields are visited in
//! sorted (Java string) order, and an absent field K counts as *present* iff some leaf at K is
//! consistent with the leaves already chosen for the positive fields that sort before K. So a
//! leaf at K inside an array element other than the one those fields were taken from does not
//! make K present; with no such earlier field, any leaf at K does.
//!
//! Given, for each positive field, the contexts of the leaves that satisfy it, and for each
//! absent field that needs it, the contexts of its leaves, the question is whether a choice
//! exists that takes one leaf per positive field consistently and leaves every absent field
//! without a surviving leaf. It is solved bottom-up on the context tree in one pass: for each
//! element, the Pareto front of options `(fields provided, absent fields with a surviving leaf)`
//! (more fields and fewer survivors are better). An array offers one of its elements' options
//! (choosing an element whose fields include one that sorts before K kills every K leaf in the
//! other elements) or nothing; an element combines its own leaves with one option per array
//! under it. The branch holds iff the root offers all fields with no survivor.
//!
//! Cost: linear in the number of contexts on the paths from the hits to the root (each visited
//! once), times the sizes of the fronts, which are bounded by the number of fields involved and
//! in practice tiny. This runs only for candidate branches whose leaves sit inside arrays.

use rustc_hash::FxHashMap;

use crate::json::scan::Ctx;

/// A set of up to 256 fields (or absent conditions).
pub(crate) type Set = [u64; 4];

pub(crate) fn bit(i: usize) -> Set {
    let mut s = [0u64; 4];
    s[i / 64] |= 1 << (i % 64);
    s
}

pub(crate) fn union(a: &Set, b: &Set) -> Set {
    [a[0] | b[0], a[1] | b[1], a[2] | b[2], a[3] | b[3]]
}

fn intersects(a: &Set, b: &Set) -> bool {
    (0..4).any(|i| a[i] & b[i] != 0)
}

fn is_subset(a: &Set, b: &Set) -> bool {
    (0..4).all(|i| a[i] & !b[i] == 0)
}

fn count(a: &Set) -> u32 {
    a.iter().map(|w| w.count_ones()).sum()
}

/// One way to satisfy part of a branch: fields provided, absent conditions still violated.
type Option2 = (Set, Set);

/// Keeps the Pareto front: no option with a superset of fields and a subset of survivors.
fn prune(front: &mut Vec<Option2>) {
    if front.len() < 2 {
        return;
    }
    front.sort_unstable_by_key(|(f, s)| (std::cmp::Reverse(count(f)), count(s)));
    let mut kept: Vec<Option2> = Vec::with_capacity(front.len());
    for (f, s) in front.drain(..) {
        if !kept.iter().any(|(kf, ks)| is_subset(&f, kf) && is_subset(ks, &s)) {
            kept.push((f, s));
        }
    }
    *front = kept;
}

/// The positive fields of `branch` (numbered in order, absent ones skipped) whose paths sort
/// before `path` in Java string order: the fields that constrain where an absent `path` may
/// not appear.
pub(crate) fn fields_before(branch: &crate::ir::Branch, path: &[u8]) -> Set {
    branch
        .fields
        .iter()
        .filter(|f| matches!(f.condition, crate::ir::Condition::AnyOf(_)))
        .enumerate()
        .filter(|(_, f)| crate::value::wildcard::java_order(&f.path, path) == std::cmp::Ordering::Less)
        .fold([0u64; 4], |set, (i, _)| union(&set, &bit(i)))
}

/// An absent field: which positive fields sort before it, and where its leaves are.
pub(crate) struct Absent {
    pub(crate) before: Set,
    pub(crate) leaves: Vec<u32>,
}

/// Each element of one array: its front and its absent-leaf counts.
type ArrayElements = Vec<(Vec<Option2>, Vec<u32>)>;

#[derive(Default)]
struct Acc {
    own_fields: Set,
    own_survivors: Set,
    /// Absent-field leaves in this subtree, per absent field.
    counts: Vec<u32>,
    /// Per array directly under this element: each element's front and leaf counts.
    arrays: Vec<(u32, ArrayElements)>,
}

/// Combines an element's own leaves with one choice per array under it.
fn combine(acc: Acc, absents: &[Absent]) -> (Vec<Option2>, Vec<u32>) {
    let mut front = vec![(acc.own_fields, acc.own_survivors)];
    let mut counts = acc.counts;
    for (_, elements) in acc.arrays {
        let mut total = vec![0u32; absents.len()];
        for (_, c) in &elements {
            for (t, x) in total.iter_mut().zip(c) {
                *t += x;
            }
        }
        for (t, x) in counts.iter_mut().zip(&total) {
            *t += x;
        }
        // The array's options: nothing chosen (every leaf survives), or one element's option.
        let none: Set = total.iter().enumerate().filter(|(_, &c)| c > 0).fold([0; 4], |s, (k, _)| union(&s, &bit(k)));
        let mut options = vec![([0u64; 4], none)];
        for (element_front, element_counts) in &elements {
            for &(fields, survivors) in element_front {
                let mut s = survivors;
                for (k, absent) in absents.iter().enumerate() {
                    let killed_elsewhere = intersects(&fields, &absent.before);
                    if !killed_elsewhere && total[k] > element_counts[k] {
                        s = union(&s, &bit(k));
                    }
                }
                options.push((fields, s));
            }
        }
        prune(&mut options);
        let mut next = Vec::with_capacity(front.len() * options.len());
        for (f, s) in &front {
            for (of, os) in &options {
                next.push((union(f, of), union(s, os)));
            }
        }
        prune(&mut next);
        front = next;
    }
    (front, counts)
}

/// True if one hit per field in `0..fields` can be chosen so that no two chosen hits sit in
/// different elements of the same array, and no leaf of an absent field survives (see the
/// module docs). `hits` are `(field, context)` pairs; context 0 is outside every array.
pub(crate) fn solve(ctxs: &[Ctx], hits: &[(usize, u32)], fields: usize, absents: &[Absent]) -> bool {
    let mut full = [0u64; 4];
    for f in 0..fields {
        full = union(&full, &bit(f));
    }
    let zero = vec![0u32; absents.len()];
    let mut nodes: FxHashMap<u32, Acc> = FxHashMap::default();
    let new_acc = || Acc { counts: zero.clone(), ..Acc::default() };
    for &(f, ctx) in hits {
        let acc = nodes.entry(ctx).or_insert_with(new_acc);
        acc.own_fields = union(&acc.own_fields, &bit(f));
    }
    for (k, absent) in absents.iter().enumerate() {
        for &ctx in &absent.leaves {
            let acc = nodes.entry(ctx).or_insert_with(new_acc);
            acc.own_survivors = union(&acc.own_survivors, &bit(k));
            acc.counts[k] += 1;
        }
    }
    // Add every ancestor, stopping where the chain is already present.
    let starts: Vec<u32> = nodes.keys().copied().collect();
    for start in starts {
        let mut x = start;
        while x != 0 {
            let parent = ctxs[x as usize].parent;
            if nodes.contains_key(&parent) {
                break;
            }
            nodes.insert(parent, new_acc());
            x = parent;
        }
    }
    nodes.entry(0).or_insert_with(new_acc);
    let mut order: Vec<u32> = nodes.keys().copied().filter(|&x| x != 0).collect();
    // Children were created after their parents: decreasing ids visit children first.
    order.sort_unstable_by(|a, b| b.cmp(a));
    for x in order {
        let acc = nodes.remove(&x).expect("every ordered node is present");
        let (front, counts) = combine(acc, absents);
        let Ctx { parent, array, .. } = ctxs[x as usize];
        let parent_acc = nodes.get_mut(&parent).expect("ancestors were added");
        match parent_acc.arrays.iter_mut().find(|(a, _)| *a == array) {
            Some((_, elements)) => elements.push((front, counts)),
            None => parent_acc.arrays.push((array, vec![(front, counts)])),
        }
    }
    let root = nodes.remove(&0).expect("root was added");
    let (front, _) = combine(root, absents);
    front.iter().any(|(f, s)| is_subset(&full, f) && *s == [0u64; 4])
}

#[cfg(test)]
mod tests {
    use super::*;

    const ROOT: Ctx = Ctx::ROOT;

    fn c(parent: u32, array: u32) -> Ctx {
        Ctx { parent, array, index: 0, node: 0 }
    }

    fn consistent(ctxs: &[Ctx], hits: &[(usize, u32)], fields: usize) -> bool {
        solve(ctxs, hits, fields, &[])
    }

    #[test]
    fn split_across_elements_is_rejected() {
        // e: [{f:John,l:Doe}, {f:Anna,l:Smith}, {f:Peter,l:Jones}]
        let ctxs = [ROOT, c(0, 0), c(0, 0), c(0, 0)];
        assert!(!consistent(&ctxs, &[(0, 2), (1, 3)], 2));
        assert!(consistent(&ctxs, &[(0, 2), (1, 3), (1, 2)], 2));
    }

    #[test]
    fn different_arrays_combine_freely() {
        let ctxs = [ROOT, c(0, 0), c(0, 1)];
        assert!(consistent(&ctxs, &[(0, 1), (1, 2)], 2));
        assert!(consistent(&ctxs, &[(0, 0), (1, 2)], 2));
    }

    #[test]
    fn nested_arrays() {
        // a: [ [ {b:1} ], [ {c:2}, {b:3} ] ] — ctx1 = a[0], ctx2 = a[0][0], ctx3 = a[1], ctx4 = a[1][0], ctx5 = a[1][1]
        let ctxs = [ROOT, c(0, 0), c(1, 1), c(0, 0), c(3, 2), c(3, 2)];
        assert!(!consistent(&ctxs, &[(0, 2), (1, 4)], 2));
        assert!(!consistent(&ctxs, &[(0, 5), (1, 4)], 2));
        assert!(consistent(&ctxs, &[(0, 3), (1, 4)], 2));
    }

    #[test]
    fn three_fields_need_a_common_choice() {
        // x: [ {p,q}, {q,r}, {p,r} ] — no element has all three.
        let ctxs = [ROOT, c(0, 0), c(0, 0), c(0, 0)];
        let hits = [(0, 1), (1, 1), (1, 2), (2, 2), (0, 3), (2, 3)];
        assert!(!consistent(&ctxs, &hits, 3));
        assert!(consistent(&ctxs, &hits[..4], 2));
    }

    #[test]
    fn large_arrays_are_linear() {
        let n = 20_000;
        let mut ctxs = vec![ROOT];
        let mut hits = Vec::new();
        for i in 0..n {
            ctxs.push(c(0, 0));
            hits.push((i % 2, (i + 1) as u32));
        }
        assert!(!consistent(&ctxs, &hits, 2));
        hits.push((1, 1));
        assert!(consistent(&ctxs, &hits, 2));
    }

    #[test]
    fn absent_fields_follow_event_ruler_order() {
        // Pattern {"a": {"b": ["1"], "c": [{"exists": false}]}}: a.b sorts before a.c.
        let ctxs = [ROOT, c(0, 0), c(0, 0)];
        let before_c = Absent { before: bit(0), leaves: vec![2] };
        // a: [{b:1}, {b:2, c:x}] — b=1 in element 1, c only in element 2: absent there → match.
        assert!(solve(&ctxs, &[(0, 1)], 1, &[before_c]));
        // a: [{b:1, c:x}, {b:2}] — c in the chosen element → present → no match.
        let c_with_b = Absent { before: bit(0), leaves: vec![1] };
        assert!(!solve(&ctxs, &[(0, 1)], 1, &[c_with_b]));
        // If the absent field sorts first, nothing constrains it: any leaf counts.
        let first = Absent { before: [0; 4], leaves: vec![2] };
        assert!(!solve(&ctxs, &[(0, 1)], 1, &[first]));
    }

    #[test]
    fn absent_leaves_in_other_arrays_survive() {
        // x: [{p:1}], y: [{k:1}] — the chosen p does not share y's array, so k survives.
        let ctxs = [ROOT, c(0, 0), c(0, 1)];
        assert!(!solve(&ctxs, &[(0, 1)], 1, &[Absent { before: bit(0), leaves: vec![2] }]));
    }

    #[test]
    fn a_second_choice_can_kill_the_absent_leaf() {
        // a: [{b:1, c:x}, {b:1}] — choosing the second element leaves c absent.
        let ctxs = [ROOT, c(0, 0), c(0, 0)];
        assert!(solve(&ctxs, &[(0, 1), (0, 2)], 1, &[Absent { before: bit(0), leaves: vec![1] }]));
        // A field taken outside any array kills nothing.
        assert!(!solve(&ctxs, &[(0, 0)], 1, &[Absent { before: bit(0), leaves: vec![1] }]));
    }
}
