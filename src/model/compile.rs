//! The second step: a checked scenario laid out for the kernels.

use super::*;
use crate::model::validate::Checked;

/// Per demand node, in order, the [`Limit`]s each trial records: one per input material of the
/// recipe nodes upstream of it (none without materials), with offsets by demand node.
fn limits(
    demand: &[DemandNode],
    hot: &[Hot],
    edges: &[Edge],
    in_off: &[u32],
    materials: usize,
) -> (Vec<Limit>, Vec<u32>) {
    let mut limits = Vec::new();
    let mut off = vec![0u32];
    for (d, dn) in demand.iter().enumerate() {
        if materials > 0 {
            // Nodes are in topological order: walk from the demand node back to its suppliers.
            let mut up = vec![false; hot.len()];
            up[dn.node as usize] = true;
            for n in (0..hot.len()).rev() {
                if up[n] {
                    for e in &edges[in_off[n] as usize..in_off[n + 1] as usize] {
                        up[e.src as usize] = true;
                    }
                }
            }
            let gates: Vec<u32> = (0..hot.len())
                .filter(|&n| up[n] && hot[n].assembly())
                .flat_map(|n| in_off[n]..in_off[n + 1])
                .collect();
            let mut kinds: Vec<u16> = gates.iter().map(|&e| edges[e as usize].material).collect();
            kinds.sort_unstable();
            kinds.dedup();
            for k in kinds {
                limits.push(Limit {
                    demand: d as u32,
                    material: k,
                    gates: gates
                        .iter()
                        .copied()
                        .filter(|&e| edges[e as usize].material == k)
                        .collect(),
                });
            }
        }
        off.push(limits.len() as u32);
    }
    (limits, off)
}

/// Lays a checked scenario out for the kernel: nodes renumbered in topological order, edges
/// grouped by buyer with CSR offsets, the flags and shock columns the kernel reads.
///
/// A sequence of short, commented steps over the same arrays (renumbering, offsets, shock
/// indices, per-node flags); it cannot fail, so it has none of the validation's branches.
pub(super) fn compile(c: Checked) -> Model {
    let Checked {
        name,
        description,
        periods,
        start,
        trials,
        seed,
        policy,
        reroute_lag,
        thresholds,
        regime,
        countries,
        materials,
        origins,
        reaches,
        nodes,
        hot: hot_of,
        edges,
        order,
        demand: demand_of,
        mut shocks,
        warnings,
    } = c;
    let n_nodes = nodes.len();
    // Renumber in topological order.
    let mut new_of = vec![0u32; n_nodes];
    for (k, &i) in order.iter().enumerate() {
        new_of[i] = k as u32;
    }
    let nodes_sorted: Vec<Node> = order
        .iter()
        .map(|&i| {
            let mut n = nodes[i].clone();
            if let Part::Input { of, .. } | Part::Output { of, .. } = &mut n.part {
                *of = new_of[*of as usize];
            }
            n
        })
        .collect();
    let mut edge_order: Vec<usize> = (0..edges.len()).collect();
    // Grouped by buyer; within a buyer, in file order (the order re-routing tries them).
    edge_order.sort_by_key(|&k| (new_of[edges[k].dst as usize], k));
    let mut new_edge = vec![0u32; edges.len()];
    for (k, &old) in edge_order.iter().enumerate() {
        new_edge[old] = k as u32;
    }
    let edges_sorted: Vec<Edge> = edge_order
        .iter()
        .map(|&k| {
            let mut e = edges[k].clone();
            e.src = new_of[e.src as usize];
            e.dst = new_of[e.dst as usize];
            e
        })
        .collect();
    let mut in_off = vec![0u32; n_nodes + 1];
    for e in &edges_sorted {
        in_off[e.dst as usize + 1] += 1;
    }
    for k in 0..n_nodes {
        in_off[k + 1] += in_off[k];
    }
    let mut out_off = vec![0u32; n_nodes + 1];
    for e in &edges_sorted {
        out_off[e.src as usize + 1] += 1;
    }
    for k in 0..n_nodes {
        out_off[k + 1] += out_off[k];
    }
    let mut fill = out_off.clone();
    let mut out_edges = vec![0u32; edges_sorted.len()];
    for (k, e) in edges_sorted.iter().enumerate() {
        out_edges[fill[e.src as usize] as usize] = k as u32;
        fill[e.src as usize] += 1;
    }
    let demand: Vec<DemandNode> = order
        .iter()
        .filter_map(|&i| demand_of[i].clone())
        .map(|mut d| {
            d.node = new_of[d.node as usize];
            d
        })
        .collect();
    for s in &mut shocks {
        match &mut s.kind {
            ShockKind::Markov { node, .. }
            | ShockKind::Events { node, .. }
            | ShockKind::Delay { node, .. } => {
                *node = new_of[*node as usize];
            }
            ShockKind::Restriction { edges, .. } | ShockKind::Tariff { edges, .. } => {
                for e in edges.iter_mut() {
                    *e = new_edge[*e as usize];
                }
                edges.sort_unstable();
            }
        }
    }

    let mut tariff_buyers: Vec<u32> = shocks
        .iter()
        .filter_map(|s| match &s.kind {
            ShockKind::Tariff { edges, .. } => Some(edges),
            _ => None,
        })
        .flatten()
        .map(|&e| edges_sorted[e as usize].dst)
        .collect();
    tariff_buyers.sort_unstable();
    tariff_buyers.dedup();

    let mut planned_online = vec![i64::MIN; n_nodes];
    for sh in &shocks {
        if let ShockKind::Delay { node, nominal, .. } = &sh.kind {
            let p = &mut planned_online[*node as usize];
            *p = (*p).max(*nominal);
        }
    }

    let mut tariffed = vec![false; n_nodes];
    let mut tariff_edge = vec![false; edges_sorted.len()];
    for sh in &shocks {
        if let ShockKind::Tariff { edges, .. } = &sh.kind {
            for &e in edges {
                tariff_edge[e as usize] = true;
            }
        }
    }
    for n in 0..n_nodes {
        for e in in_off[n] as usize..in_off[n + 1] as usize {
            if tariff_edge[e] || tariffed[edges_sorted[e].src as usize] {
                tariffed[n] = true;
            }
        }
    }
    let mut hot: Vec<Hot> = order
        .iter()
        .zip(&tariffed)
        .enumerate()
        .map(|(n, (&i, &tariffed))| Hot {
            tariffed,
            reweighted: tariff_buyers.binary_search(&(n as u32)).is_ok(),
            ..hot_of[i]
        })
        .collect();

    let slots = Slots::of(n_nodes, edges_sorted.len(), &shocks);
    for (n, h) in hot.iter_mut().enumerate() {
        let outs = &out_edges[out_off[n] as usize..out_off[n + 1] as usize];
        h.restricted = outs.iter().any(|&e| slots.allow[e as usize] != NO_SLOT);
        h.reroutes = (in_off[n]..in_off[n + 1]).any(|e| edges_sorted[e as usize].reroute);
    }
    let inputs = inputs::Inputs::of(&shocks, regime.as_ref());
    let (limits, limit_off) = limits(&demand, &hot, &edges_sorted, &in_off, materials.len());
    Model {
        limits,
        limit_off,
        inputs,
        hot,
        tariff_buyers,
        planned_online,
        slots,
        name,
        warnings,
        description,
        periods,
        start,
        trials,
        seed,
        policy,
        reroute_lag,
        thresholds,
        countries,
        materials,
        origins,
        reaches,
        nodes: nodes_sorted,
        edges: edges_sorted,
        in_off,
        out_edges,
        out_off,
        demand,
        regime,
        shocks,
    }
}
