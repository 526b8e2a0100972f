//! Zachary's karate club, built into the crate.

use std::path::Path;

use torchlet_tensor::Tensor;

use crate::error::{GraphError, Result};

const EMBEDDED_EDGES: &str = include_str!("../data/karate/edges.tsv");
const EMBEDDED_MEMBERS: &str = include_str!("../data/karate/members.tsv");

/// The label the loss and the accuracy leave out (`ignore_index` of
/// PyTorch's cross-entropy): what [`KarateClub::masked_labels`] puts on
/// the members outside the chosen set.
pub const IGNORE_INDEX: i64 = -100;

/// Zachary's karate club (`torch_geometric.datasets.KarateClub`): 34
/// members, 78 undirected friendships, and the faction each member joined
/// when the club split (0: the instructor's, "Mr. Hi", member 0; 1: the
/// administrator's, "Officer", member 33). See `data/karate/README.md`.
///
/// The classic semi-supervised task labels one member per faction, its
/// leader, and predicts everyone else's faction from the friendships:
///
/// ```
/// use torchlet_graph::KarateClub;
/// let club = KarateClub::embedded()?;
/// assert_eq!((club.num_nodes(), club.edges().len()), (34, 78));
/// assert_eq!(club.labelled(), [0, 33]); // the instructor and the administrator
/// assert_eq!(club.unlabelled().len(), 32);
/// # Ok::<(), torchlet_graph::GraphError>(())
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct KarateClub {
    edges: Vec<(usize, usize)>,
    factions: Vec<usize>,
}

impl KarateClub {
    /// The class names, by faction.
    pub const CLASSES: [&'static str; 2] = ["Mr. Hi", "Officer"];

    /// The copy built into this crate (no file needed).
    pub fn embedded() -> Result<KarateClub> {
        KarateClub::from_tsv_str(
            EMBEDDED_EDGES,
            EMBEDDED_MEMBERS,
            "embedded:karate/edges.tsv",
            "embedded:karate/members.tsv",
        )
    }

    /// Reads `dir/edges.tsv` and `dir/members.tsv` (the embedded files'
    /// format).
    pub fn from_dir(dir: impl AsRef<Path>) -> Result<KarateClub> {
        let dir = dir.as_ref();
        let read = |name: &str| {
            let path = dir.join(name);
            std::fs::read_to_string(&path)
                .map(|text| (text, path.display().to_string()))
                .map_err(|source| GraphError::Io {
                    path: path.display().to_string(),
                    source,
                })
        };
        let (edges, edges_name) = read("edges.tsv")?;
        let (members, members_name) = read("members.tsv")?;
        KarateClub::from_tsv_str(&edges, &members, &edges_name, &members_name)
    }

    /// Parses the two TSV texts: `source<TAB>target` (one undirected edge
    /// per line) and `member<TAB>faction` (members numbered 0, 1, ... in
    /// order, factions 0 or 1), each under a header line. The names are
    /// used in errors.
    pub fn from_tsv_str(
        edges: &str,
        members: &str,
        edges_name: &str,
        members_name: &str,
    ) -> Result<KarateClub> {
        let mut factions = Vec::new();
        for (line, [member, faction]) in rows(members, members_name, ["member", "faction"])? {
            let parse_err = |message: String| GraphError::Parse {
                source_name: members_name.into(),
                line,
                message,
            };
            if member != factions.len() {
                return Err(parse_err(format!(
                    "expected member {}, got {member} (members are numbered 0, 1, ... in order)",
                    factions.len()
                )));
            }
            if faction >= Self::CLASSES.len() {
                return Err(parse_err(format!("faction must be 0 or 1, got {faction}")));
            }
            factions.push(faction);
        }
        if factions.is_empty() {
            return Err(GraphError::Invalid(format!("{members_name}: no members")));
        }
        let mut edges_out = Vec::new();
        for (line, [s, t]) in rows(edges, edges_name, ["source", "target"])? {
            if s >= factions.len() || t >= factions.len() {
                return Err(GraphError::Parse {
                    source_name: edges_name.into(),
                    line,
                    message: format!(
                        "edge {s} - {t} names a member outside 0..{}",
                        factions.len()
                    ),
                });
            }
            edges_out.push((s, t));
        }
        Ok(KarateClub {
            edges: edges_out,
            factions,
        })
    }

    /// Number of members (nodes).
    pub fn num_nodes(&self) -> usize {
        self.factions.len()
    }

    /// The undirected friendships, each once, as read.
    pub fn edges(&self) -> &[(usize, usize)] {
        &self.edges
    }

    /// The friendships in both directions as PyTorch Geometric's
    /// `edge_index`: int64 `[2, 2 * edges]`, sources then targets.
    pub fn edge_index(&self) -> Tensor {
        let e = self.edges.len();
        let mut idx = vec![0i64; 4 * e];
        for (k, &(s, t)) in self.edges.iter().enumerate() {
            idx[2 * k] = s as i64;
            idx[2 * k + 1] = t as i64;
            idx[2 * e + 2 * k] = t as i64;
            idx[2 * e + 2 * k + 1] = s as i64;
        }
        Tensor::from_vec(idx, &[2, 2 * e]).expect("indices fit their shape")
    }

    /// Each member's faction, by member.
    pub fn factions(&self) -> &[usize] {
        &self.factions
    }

    /// Number of classes (factions).
    pub fn num_classes(&self) -> usize {
        Self::CLASSES.len()
    }

    /// One-hot node features, the identity `[N, N]` float32: each member
    /// is only its own id, as in Kipf & Welling's karate experiment, so
    /// everything the model learns comes from the friendships.
    pub fn features(&self) -> Tensor {
        Tensor::eye(self.num_nodes())
    }

    /// The factions as int64 targets `[N]` for the members in `nodes`, and
    /// [`IGNORE_INDEX`] for everyone else: the loss and the accuracy then
    /// count only `nodes` (PyTorch Geometric's train/test masks).
    pub fn masked_labels(&self, nodes: &[usize]) -> Tensor {
        let mut y = vec![IGNORE_INDEX; self.num_nodes()];
        for &n in nodes {
            y[n] = self.factions[n] as i64;
        }
        Tensor::from_vec(y, &[self.num_nodes()]).expect("labels fit their shape")
    }

    /// The members whose faction is known in the semi-supervised task:
    /// each faction's best-connected member (the lowest number among
    /// ties), in faction order. For the club: member 0, the instructor,
    /// and member 33, the administrator.
    pub fn labelled(&self) -> Vec<usize> {
        let mut degree = vec![0usize; self.num_nodes()];
        for &(s, t) in &self.edges {
            degree[s] += 1;
            degree[t] += 1;
        }
        (0..self.num_classes())
            .filter_map(|f| {
                (0..self.num_nodes())
                    .filter(|&n| self.factions[n] == f)
                    .max_by_key(|&n| (degree[n], std::cmp::Reverse(n)))
            })
            .collect()
    }

    /// Every member not in [`KarateClub::labelled`]: the ones to predict.
    pub fn unlabelled(&self) -> Vec<usize> {
        let labelled = self.labelled();
        (0..self.num_nodes())
            .filter(|n| !labelled.contains(n))
            .collect()
    }
}

/// The data rows of a two-column TSV of non-negative integers under the
/// header `names`, with their 1-based line numbers.
fn rows(text: &str, name: &str, header: [&str; 2]) -> Result<Vec<(usize, [usize; 2])>> {
    let err = |line: usize, message: String| GraphError::Parse {
        source_name: name.into(),
        line,
        message,
    };
    let mut lines = text.lines().enumerate().map(|(i, l)| (i + 1, l));
    match lines.next() {
        Some((_, h)) if h.trim_end_matches('\r').split('\t').eq(header) => {}
        _ => {
            return Err(err(
                1,
                format!("expected the header {:?}", header.join("\t")),
            ))
        }
    }
    let mut out = Vec::new();
    for (line, text) in lines {
        let text = text.trim_end_matches('\r');
        if text.is_empty() {
            continue;
        }
        let fields: Vec<&str> = text.split('\t').collect();
        let [a, b] = fields[..] else {
            return Err(err(
                line,
                format!("expected 2 tab-separated fields, got {}", fields.len()),
            ));
        };
        let num = |s: &str| {
            s.trim()
                .parse::<usize>()
                .map_err(|_| err(line, format!("{s:?} is not a non-negative integer")))
        };
        out.push((line, [num(a)?, num(b)?]));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_embedded_club_is_zacharys() {
        let club = KarateClub::embedded().unwrap();
        assert_eq!(club.num_nodes(), 34);
        assert_eq!(club.edges().len(), 78);
        // 17 members followed Mr. Hi, 17 the administrator (networkx's club).
        assert_eq!(club.factions().iter().filter(|&&f| f == 0).count(), 17);
        assert_eq!((club.factions()[0], club.factions()[33]), (0, 1));
        assert_eq!(club.labelled(), [0, 33]);
        let ei = club.edge_index();
        assert_eq!(ei.shape(), [2, 156]);
        let y = club.masked_labels(&[0, 33]).to_vec::<i64>().unwrap();
        assert_eq!((y[0], y[1], y[33]), (0, IGNORE_INDEX, 1));
    }

    #[test]
    fn malformed_files_name_the_line() {
        let members = "member\tfaction\n0\t0\n1\t1\n";
        let e = KarateClub::from_tsv_str("source\ttarget\n0\t5\n", members, "e.tsv", "m.tsv")
            .unwrap_err()
            .to_string();
        assert_eq!(e, "e.tsv:2: edge 0 - 5 names a member outside 0..2");
        let e = KarateClub::from_tsv_str("source\ttarget\n", "member\tfaction\n1\t0\n", "e", "m")
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("m:2: expected member 0, got 1"), "{e}");
        let e = KarateClub::from_tsv_str("a\tb\n", members, "e", "m")
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("e:1: expected the header"), "{e}");
        let e = KarateClub::from_tsv_str("source\ttarget\n0\tx\n", members, "e", "m")
            .unwrap_err()
            .to_string();
        assert_eq!(e, "e:2: \"x\" is not a non-negative integer");
    }
}
