//! All-pairs (pairwise) combinations: a small set of rows in which every
//! value of each dimension meets every value of every other dimension at
//! least once, for when the full product of the options is too slow to run.
//!
//! Deterministic and greedy (in the manner of AETG): the seed rows first,
//! then, while some pair is uncovered, the valid row of the full product
//! that covers the most uncovered pairs (the first such row in
//! lexicographic order on a tie). The products here are a few hundred rows,
//! so scanning all of them per step is cheap, and the same dimensions
//! always give the same rows.
//!
//! A pair is required only if some valid row holds it: a constraint
//! ("this schema only with that upstream") removes the pairs it forbids.

/// One pair of values: (dimension, value) and (dimension, value), the
/// first dimension the smaller.
pub type Pair = ((usize, usize), (usize, usize));

/// Every row of the full product of `sizes` that `valid` accepts, in
/// lexicographic order.
pub fn product(sizes: &[usize], valid: &dyn Fn(&[usize]) -> bool) -> Vec<Vec<usize>> {
    let mut rows = Vec::new();
    if sizes.contains(&0) {
        return rows;
    }
    let mut row = vec![0; sizes.len()];
    loop {
        if valid(&row) {
            rows.push(row.clone());
        }
        // Odometer step, last dimension fastest.
        let mut d = sizes.len();
        loop {
            if d == 0 {
                return rows;
            }
            d -= 1;
            row[d] += 1;
            if row[d] < sizes[d] {
                break;
            }
            row[d] = 0;
        }
    }
}

/// The pairs a row holds.
pub fn pairs_of(row: &[usize]) -> Vec<Pair> {
    let mut out = Vec::new();
    for i in 0..row.len() {
        for j in i + 1..row.len() {
            out.push(((i, row[i]), (j, row[j])));
        }
    }
    out
}

/// The pairs some valid row holds, sorted: what an all-pairs set must cover.
pub fn required_pairs(sizes: &[usize], valid: &dyn Fn(&[usize]) -> bool) -> Vec<Pair> {
    let mut pairs: Vec<Pair> = product(sizes, valid)
        .iter()
        .flat_map(|r| pairs_of(r))
        .collect();
    pairs.sort_unstable();
    pairs.dedup();
    pairs
}

/// The required pairs that none of `rows` holds.
pub fn uncovered(
    sizes: &[usize],
    valid: &dyn Fn(&[usize]) -> bool,
    rows: &[Vec<usize>],
) -> Vec<Pair> {
    let held: std::collections::HashSet<Pair> = rows.iter().flat_map(|r| pairs_of(r)).collect();
    required_pairs(sizes, valid)
        .into_iter()
        .filter(|p| !held.contains(p))
        .collect()
}

/// `seeds` (kept as given, in order) plus as few more valid rows as the
/// greedy choice finds for every required pair to be covered.
///
/// Panics if a seed is invalid or has the wrong length: a matrix that
/// silently drops a row it was told to run would hide what it skipped.
pub fn all_pairs(
    sizes: &[usize],
    valid: &dyn Fn(&[usize]) -> bool,
    seeds: &[Vec<usize>],
) -> Vec<Vec<usize>> {
    for seed in seeds {
        assert!(
            seed.len() == sizes.len() && seed.iter().zip(sizes).all(|(v, n)| v < n) && valid(seed),
            "seed row {seed:?} is not a valid row of {sizes:?}"
        );
    }
    let mut rows: Vec<Vec<usize>> = seeds.to_vec();
    let mut open: std::collections::HashSet<Pair> =
        uncovered(sizes, valid, &rows).into_iter().collect();
    let candidates = product(sizes, valid);
    while !open.is_empty() {
        let gain = |r: &Vec<usize>| pairs_of(r).iter().filter(|p| open.contains(p)).count();
        // max_by_key keeps the last maximum; scan in reverse for the first.
        let best = candidates
            .iter()
            .rev()
            .max_by_key(|r| gain(r))
            .expect("a required pair comes from some valid row")
            .clone();
        for p in pairs_of(&best) {
            open.remove(&p);
        }
        rows.push(best);
    }
    rows
}

#[cfg(test)]
mod tests {
    use super::*;

    fn any(_: &[usize]) -> bool {
        true
    }

    #[test]
    fn four_ternary_dimensions_need_far_fewer_rows_than_the_product() {
        let sizes = [3, 3, 3, 3];
        let rows = all_pairs(&sizes, &any, &[]);
        assert!(uncovered(&sizes, &any, &rows).is_empty());
        // 81 rows in the product; 9 is the optimum, greedy stays close.
        assert!(rows.len() <= 13, "{} rows: {rows:?}", rows.len());
        assert_eq!(rows, all_pairs(&sizes, &any, &[]), "deterministic");
    }

    #[test]
    fn a_missing_row_leaves_pairs_uncovered() {
        let sizes = [2, 3, 2];
        let mut rows = all_pairs(&sizes, &any, &[]);
        let dropped = rows.pop().unwrap();
        let open = uncovered(&sizes, &any, &rows);
        assert!(!open.is_empty(), "each greedy row adds a pair");
        assert!(open.iter().all(|p| pairs_of(&dropped).contains(p)));
    }

    #[test]
    fn constraints_remove_forbidden_pairs_and_seeds_come_first() {
        // Value 1 of dimension 1 only with value 2 of dimension 0.
        let valid = |r: &[usize]| r[1] == 0 || r[0] == 2;
        let sizes = [3, 2, 2];
        let seed = vec![2, 1, 1];
        let rows = all_pairs(&sizes, &valid, std::slice::from_ref(&seed));
        assert_eq!(rows[0], seed);
        assert!(rows.iter().all(|r| valid(r)), "{rows:?}");
        assert!(uncovered(&sizes, &valid, &rows).is_empty());
        assert!(!required_pairs(&sizes, &valid).contains(&((0, 0), (1, 1))));
    }

    #[test]
    #[should_panic(expected = "not a valid row")]
    fn an_invalid_seed_is_refused() {
        let valid = |r: &[usize]| r[0] == 0;
        all_pairs(&[2, 2], &valid, &[vec![1, 0]]);
    }
}
