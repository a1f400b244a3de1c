//! Property: any change to a valid bundle is refused by verify and by open,
//! never accepted and never a panic. Runs on stable in CI.

mod common;

use std::sync::OnceLock;

use common::bundles::*;
use proptest::prelude::*;

/// One valid bundle, made once (nodes are slow to set up).
fn valid() -> &'static Vec<u8> {
    static BUNDLE: OnceLock<Vec<u8>> = OnceLock::new();
    BUNDLE.get_or_init(|| {
        let (src, _dst) = two_nodes();
        let (child, _) = child_with(&src, "Test Child", &["fir", "identity"], 2_000);
        let path = create(&src, &child, "p.bundle", &["--allow-incomplete", "test"]);
        std::fs::read(path).unwrap()
    })
}

#[derive(Debug, Clone)]
enum Mutation {
    Flip { at: usize, mask: u8 },
    Truncate { len: usize },
    Insert { at: usize, bytes: Vec<u8> },
    Delete { at: usize, len: usize },
    Overwrite { at: usize, bytes: Vec<u8> },
    Splice { from: usize, to: usize, len: usize },
}

fn mutation() -> impl Strategy<Value = Mutation> {
    let any_at = any::<prop::sample::Index>();
    prop_oneof![
        (any_at.clone(), 1u8..=255)
            .prop_map(|(i, mask)| (i, mask))
            .prop_map(|(i, mask)| Mutation::Flip {
                at: i.index(valid().len()),
                mask
            }),
        any_at.clone().prop_map(|i| Mutation::Truncate {
            len: i.index(valid().len())
        }),
        (any_at.clone(), prop::collection::vec(any::<u8>(), 1..64)).prop_map(|(i, bytes)| {
            Mutation::Insert {
                at: i.index(valid().len() + 1),
                bytes,
            }
        }),
        (any_at.clone(), 1usize..64).prop_map(|(i, len)| Mutation::Delete {
            at: i.index(valid().len()),
            len
        }),
        (any_at.clone(), prop::collection::vec(any::<u8>(), 1..64)).prop_map(|(i, bytes)| {
            Mutation::Overwrite {
                at: i.index(valid().len()),
                bytes,
            }
        }),
        (any_at.clone(), any_at, 1usize..256).prop_map(|(a, b, len)| Mutation::Splice {
            from: a.index(valid().len()),
            to: b.index(valid().len()),
            len
        }),
    ]
}

fn apply(m: &Mutation, good: &[u8]) -> Vec<u8> {
    let mut v = good.to_vec();
    match m {
        Mutation::Flip { at, mask } => v[*at] ^= mask,
        Mutation::Truncate { len } => v.truncate(*len),
        Mutation::Insert { at, bytes } => {
            v.splice(*at..*at, bytes.iter().copied());
        }
        Mutation::Delete { at, len } => {
            let end = (*at + len).min(v.len());
            v.drain(*at..end);
        }
        Mutation::Overwrite { at, bytes } => {
            for (i, b) in bytes.iter().enumerate() {
                if let Some(x) = v.get_mut(at + i) {
                    *x = *b;
                }
            }
        }
        Mutation::Splice { from, to, len } => {
            let end = (*from + len).min(good.len());
            let piece = good[*from..end].to_vec();
            for (i, b) in piece.iter().enumerate() {
                if let Some(x) = v.get_mut(to + i) {
                    *x = *b;
                }
            }
        }
    }
    v
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn any_change_is_refused(m in mutation()) {
        let good = valid();
        let bad = apply(&m, good);
        prop_assume!(&bad != good);
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("mutated.bundle");
        std::fs::write(&path, &bad).unwrap();
        prop_assert!(verify_in_process(&path).is_err(), "verify accepted {:?}", m);
        prop_assert!(open_in_process(&path).is_err(), "open accepted {:?}", m);
    }
}

#[test]
fn the_unmutated_bundle_is_accepted() {
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join("valid.bundle");
    std::fs::write(&path, valid()).unwrap();
    verify_in_process(&path).unwrap();
    open_in_process(&path).unwrap();
}
