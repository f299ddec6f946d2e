//! Materials: what each node makes and needs, what each edge carries, and the parts that lay a
//! recipe node or a co-product plant out as plain nodes for the kernels.
//!
//! A scenario without `[[material]]` tables has one material throughout and none of this
//! applies: its model is exactly what it was before materials existed.
//!
//! With materials, a node that needs several inputs in fixed proportions (a recipe, Leontief)
//! becomes the node itself plus one *input part* per input ([`Part::Input`]). Each part buys its
//! material from the suppliers the file gives, keeps that material's stock and re-orders it like
//! any node, and makes "kits": one kit is the input for one tonne of output, so a part's yield
//! is 1 / the recipe's coefficient. The recipe node orders its need from every part and takes
//! the least any of them ships; the rest goes back to the parts' stocks. Output is therefore
//! limited by the scarcest input divided by its coefficient.
//!
//! A plant that splits its feed into several co-products becomes the plant itself plus one
//! *output part* per co-product ([`Part::Output`]). The plant plans for the largest of the
//! parts' orders (in tonnes processed) and every part receives its whole throughput (with
//! surplus `lose`: at most its order), which it turns into its material at the co-product's
//! share and sells to that material's buyers, with the usual rationing, restrictions and
//! re-routing. What nobody takes stays in the part's stock, or is lost at the end of the period.
//! A part's capacity is the plant's times the share: what it makes of the material at full
//! throughput (and so the most re-routed demand it hears of).

use super::validate::{Checked, Compiler, Graph, Res};
use super::*;
use crate::scenario::Surplus;

/// What a node of the file makes and needs.
#[derive(Clone, Debug, Default)]
pub(super) struct Recipe {
    /// `(material, tonnes per tonne processed)`: two or more for a co-product plant.
    pub(super) outputs: Vec<(u16, f64)>,
    /// The inputs: two or more for a recipe node.
    pub(super) inputs: Vec<Input>,
    /// A co-product plant's surplus is lost rather than stocked.
    pub(super) lose: bool,
}

/// One input of a recipe.
#[derive(Clone, Copy, Debug)]
pub(super) struct Input {
    pub(super) material: u16,
    /// Tonnes per tonne of output.
    pub(super) coef: f64,
    /// Initial and safety stock, tonnes.
    pub(super) stock0: f64,
    /// Largest stock, tonnes.
    pub(super) stock_cap: f64,
}

/// The entries of a by-material table with the materials they name, or an error at the first
/// unknown one.
type Entries = Vec<(u16, f64, Range<usize>)>;

impl Compiler<'_> {
    /// The material `s` names, or an error at `s` listing the materials.
    pub(super) fn material_of(&self, g: &Graph, s: &str, span: Range<usize>) -> Res<u16> {
        match g.materials.iter().position(|m| m.id == s) {
            Some(k) => Ok(k as u16),
            None if g.materials.is_empty() => self.err(
                Some(span),
                format!("`{s}` names a material, but the scenario declares none"),
                "declare each material in a [[material]] table (id = \"ndpr_oxide\"), or remove the material names",
            ),
            None => self.err(
                Some(span),
                format!("`{s}` is not a material"),
                format!(
                    "use one of the materials: {}",
                    g.materials
                        .iter()
                        .map(|m| m.id.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            ),
        }
    }

    /// A by-material table's entries, in the order the materials are declared.
    fn entries(&self, g: &Graph, t: &scenario::ByMaterial) -> Res<Entries> {
        let mut list = t
            .get_ref()
            .iter()
            .map(|(k, v)| Ok((self.material_of(g, k, v.span())?, *v.get_ref(), v.span())))
            .collect::<Res<Entries>>()?;
        list.sort_by_key(|e| e.0);
        Ok(list)
    }

    /// The materials, each node's recipe and each edge's material, with their checks.
    pub(super) fn materials(&self, raw: &RawScenario, g: &mut Graph) -> Res<Vec<Recipe>> {
        let mut recipes = vec![Recipe::default(); raw.nodes.len()];
        for m in &raw.materials {
            let id = m.id.get_ref();
            if id.is_empty() {
                return self.err(
                    Some(m.id.span()),
                    "a material id cannot be empty",
                    "give the material a short unique id, e.g. id = \"dytb_oxide\"",
                );
            }
            if g.materials.iter().any(|x| &x.id == id) {
                return self.err(
                    Some(m.id.span()),
                    format!("duplicate material id `{id}`"),
                    "declare each material once",
                );
            }
            if g.materials.len() == u16::MAX as usize {
                return self.err(
                    Some(m.id.span()),
                    "too many materials",
                    "a scenario may declare at most 65535 materials",
                );
            }
            g.materials.push(Material {
                id: id.clone(),
                label: m.label.clone().unwrap_or_else(|| id.clone()),
            });
        }
        for (i, n) in raw.nodes.iter().enumerate() {
            let r = &mut recipes[i];
            let id = n.id.get_ref();
            if !g.materials.is_empty() && id.contains(['[', ']']) {
                return self.err(
                    Some(n.id.span()),
                    format!("node id `{id}` contains `[` or `]`"),
                    "with materials, `node[material]` names the parts of recipe nodes and co-product plants: choose an id without brackets",
                );
            }
            let kind = g.nodes[i].kind;
            if kind == Kind::Demand {
                let given = [
                    n.output.as_ref().map(|x| x.span()),
                    n.outputs.as_ref().map(|x| x.span()),
                    n.inputs.as_ref().map(|x| x.span()),
                    n.stocks.as_ref().map(|x| x.span()),
                    n.surplus.as_ref().map(|x| x.span()),
                ];
                if let Some(span) = given.into_iter().flatten().next() {
                    return self.err(
                        Some(span),
                        format!("demand node `{id}` buys what its edges carry: it has no output, outputs, inputs, stocks or surplus"),
                        "remove the key; set the material on the edges into it",
                    );
                }
                continue;
            }
            if let (Some(_), Some(b)) = (&n.output, &n.outputs) {
                return self.err(
                    Some(b.span()),
                    format!("node `{id}` gives both `output` and `outputs`"),
                    "give `output` for one material, or `outputs` for co-products",
                );
            }
            if let Some(o) = &n.output {
                r.outputs = vec![(self.material_of(g, o.get_ref(), o.span())?, 1.0)];
            }
            if let Some(t) = &n.outputs {
                let outs = self.entries(g, t)?;
                if outs.is_empty() {
                    return self.err(
                        Some(t.span()),
                        format!("`outputs` of `{id}` is empty"),
                        "list each co-product with its tonnes per tonne processed, e.g. outputs = { ndpr_oxide = 0.2, dytb_oxide = 0.01 }",
                    );
                }
                if outs.len() == 1 {
                    return self.err(
                        Some(t.span()),
                        format!("`outputs` of `{id}` lists one material: `outputs` is for co-products"),
                        "for one product write output = \"<material>\" and its yield per tonne of input",
                    );
                }
                for (_, share, span) in &outs {
                    if !(*share >= MIN_YIELD && *share <= 1.0) {
                        return self.err(
                            Some(span.clone()),
                            format!("a co-product share of `{id}` must be between {MIN_YIELD:e} and 1, got {share}"),
                            "give tonnes of the co-product per tonne processed, e.g. 0.2",
                        );
                    }
                }
                if let Some(y) = &n.yield_ {
                    return self.err(
                        Some(y.span()),
                        format!("co-product plant `{id}` gives a `yield`"),
                        "its `outputs` shares already say what it makes per tonne processed: remove `yield`",
                    );
                }
                if let Some(i) = &n.inputs {
                    return self.err(
                        Some(i.span()),
                        format!("co-product plant `{id}` gives a recipe"),
                        "a plant that splits its feed takes one input, whatever its edges carry: remove `inputs`, or model the recipe as a node before it",
                    );
                }
                let sum: f64 = outs.iter().map(|o| o.1).sum();
                if sum > 1.0 + 1e-9 {
                    return self.err(
                        Some(t.span()),
                        format!(
                            "the co-product shares of `{id}` sum to {}: a plant cannot put out more tonnes than it processes",
                            (sum * 1e6).round() / 1e6
                        ),
                        "make the shares add up to at most 1 (the rest is waste)",
                    );
                }
                r.outputs = outs.into_iter().map(|(k, s, _)| (k, s)).collect();
            }
            if r.outputs.is_empty() && !g.materials.is_empty() {
                return self.err(
                    Some(n.id.span()),
                    format!("node `{id}` does not say which material it makes"),
                    "add output = \"<material>\" (or outputs = { a = 0.2, b = 0.01 } for co-products)",
                );
            }
            if let Some(s) = &n.surplus
                && r.outputs.len() < 2
            {
                return self.err(
                    Some(s.span()),
                    format!("`surplus` of `{id}` applies to co-products, and it has none"),
                    "remove `surplus`, or give the node `outputs` with two or more materials",
                );
            }
            r.lose = n
                .surplus
                .as_ref()
                .is_some_and(|s| *s.get_ref() == Surplus::Lose);
            if let Some(t) = &n.inputs {
                if kind == Kind::Mine {
                    return self.err(
                        Some(t.span()),
                        format!("mine `{id}` has no inputs"),
                        "remove `inputs`, or make the node a refinery, metal or magnet maker",
                    );
                }
                if let Some(y) = &n.yield_ {
                    return self.err(
                        Some(y.span()),
                        format!("node `{id}` gives both `yield` and `inputs`"),
                        "a recipe gives tonnes of each input per tonne of output: remove `yield`",
                    );
                }
                if n.stock.is_some() {
                    return self.err(
                        Some(n.id.span()),
                        format!("node `{id}` has a recipe, so its stock is given by material"),
                        "replace `stock` with stocks = { <material> = <tonnes>, ... }",
                    );
                }
                let ins = self.entries(g, t)?;
                if ins.is_empty() {
                    return self.err(
                        Some(t.span()),
                        format!("`inputs` of `{id}` is empty"),
                        "list each input with its tonnes per tonne of output, e.g. inputs = { ndpr_metal = 0.3, dytb_metal = 0.02 }",
                    );
                }
                for (_, c, span) in &ins {
                    if !(MIN_YIELD..=1.0 / MIN_YIELD).contains(c) {
                        return self.err(
                            Some(span.clone()),
                            format!(
                                "a recipe coefficient of `{id}` must be between {MIN_YIELD:e} and {:e}, got {c}",
                                1.0 / MIN_YIELD
                            ),
                            "give tonnes of the input per tonne of output, e.g. 0.3",
                        );
                    }
                }
                if ins.len() > 1 && r.outputs.len() > 1 {
                    return self.err(
                        Some(t.span()),
                        format!("node `{id}` both combines several inputs and splits its output into co-products"),
                        "model it as two nodes: one with the recipe, one splitting its output",
                    );
                }
                if n.stock_cap.is_some() {
                    return self.err(
                        Some(n.id.span()),
                        format!(
                            "node `{id}` has a recipe, so its stock caps are given by material"
                        ),
                        "replace `stock_cap` with stock_caps = { <material> = <tonnes>, ... }",
                    );
                }
                let by_input = |t: &Option<scenario::ByMaterial>, key: &str| -> Res<Entries> {
                    let list = match t {
                        Some(s) => self.entries(g, s)?,
                        None => Vec::new(),
                    };
                    for (k, v, span) in &list {
                        if !ins.iter().any(|x| x.0 == *k) {
                            return self.err(
                                Some(span.clone()),
                                format!(
                                    "`{key}` of `{id}` names `{}`, which is not in its `inputs`",
                                    g.materials[*k as usize].id
                                ),
                                format!("give `{key}` only for the recipe's inputs"),
                            );
                        }
                        if !(v.is_finite() && *v >= 0.0 && *v <= crate::scenario::MAX_QUANTITY) {
                            return self.err(
                                Some(span.clone()),
                                format!("`{key}` of `{id}` must be finite numbers of tonnes >= 0, got {v}"),
                                "give tonnes of the input, e.g. 120",
                            );
                        }
                    }
                    Ok(list)
                };
                let stocks = by_input(&n.stocks, "stocks")?;
                let caps = by_input(&n.stock_caps, "stock_caps")?;
                let mut inputs = Vec::with_capacity(ins.len());
                for &(k, coef, _) in &ins {
                    let of = |l: &Entries| {
                        l.iter()
                            .find(|s| s.0 == k)
                            .map(|s| (s.1 + 0.0, s.2.clone()))
                    };
                    let stock0 = of(&stocks).map_or(0.0, |s| s.0);
                    let stock_cap = of(&caps).map_or(f64::INFINITY, |s| s.0);
                    if stock0 > stock_cap {
                        return self.err(
                            of(&caps).map(|s| s.1),
                            format!(
                                "node `{id}` starts with {stock0} t of `{}`, above its stock cap {stock_cap}",
                                g.materials[k as usize].id
                            ),
                            "lower `stocks` or raise `stock_caps`",
                        );
                    }
                    inputs.push(Input {
                        material: k,
                        coef,
                        stock0,
                        stock_cap,
                    });
                }
                r.inputs = inputs;
                if let [x] = r.inputs[..] {
                    let h = &mut g.hot[i];
                    h.yield_ = 1.0 / x.coef;
                    h.inv_yield = x.coef;
                    h.stock0 = x.stock0;
                    h.stock_cap = x.stock_cap;
                }
            } else if let Some(s) = n.stocks.as_ref().or(n.stock_caps.as_ref()) {
                return self.err(
                    Some(s.span()),
                    format!("`stocks` and `stock_caps` of `{id}` need a recipe"),
                    "give `inputs`, or give the input stock as stock = <tonnes> (and stock_cap)",
                );
            }
            if let [(k, _)] = r.outputs[..] {
                g.nodes[i].material = k;
            }
        }
        self.edge_materials(raw, g, &recipes)?;
        Ok(recipes)
    }

    /// Each edge's material: as given, or its supplier's only one; the supplier must make it
    /// and the buyer need it.
    fn edge_materials(&self, raw: &RawScenario, g: &mut Graph, recipes: &[Recipe]) -> Res<()> {
        let declared = !g.materials.is_empty();
        let name = |g: &Graph, k: u16| g.materials[k as usize].id.clone();
        let list = |g: &Graph, ks: &mut dyn Iterator<Item = u16>| {
            ks.map(|k| name(g, k)).collect::<Vec<_>>().join(", ")
        };
        // The material first seen into each buyer without a recipe.
        let mut first_in: Vec<Option<u16>> = vec![None; raw.nodes.len()];
        let mut seen = HashSet::new();
        for (k, e) in raw.edges.iter().enumerate() {
            let (src, dst) = (g.edges[k].src as usize, g.edges[k].dst as usize);
            let material = match &e.material {
                Some(m) => self.material_of(g, m.get_ref(), m.span())?,
                None if !declared => 0,
                None => match recipes[src].outputs[..] {
                    [(k, _)] => k,
                    _ => {
                        return self.err(
                            Some(e.from.span()),
                            format!(
                                "`{}` makes several materials ({}): say which this edge carries",
                                e.from.get_ref(),
                                list(g, &mut recipes[src].outputs.iter().map(|o| o.0))
                            ),
                            "add material = \"<one of them>\" to the edge",
                        );
                    }
                },
            };
            let span = e.material.as_ref().map_or(e.to.span(), |m| m.span());
            if declared && !seen.insert((src, dst, material)) {
                return self.err(
                    Some(span),
                    format!(
                        "duplicate edge `{}` -> `{}` carrying `{}`",
                        e.from.get_ref(),
                        e.to.get_ref(),
                        name(g, material)
                    ),
                    "declare each supplier -> buyer pair once per material",
                );
            }
            if declared && !recipes[src].outputs.iter().any(|o| o.0 == material) {
                return self.err(
                    Some(span),
                    format!(
                        "`{}` does not make `{}`",
                        e.from.get_ref(),
                        name(g, material)
                    ),
                    format!(
                        "it makes: {}",
                        list(g, &mut recipes[src].outputs.iter().map(|o| o.0))
                    ),
                );
            }
            let ins = &recipes[dst].inputs;
            if ins.is_empty() {
                match first_in[dst] {
                    None => first_in[dst] = Some(material),
                    Some(other) if other != material => {
                        return self.err(
                            Some(span),
                            format!(
                                "`{}` receives both `{}` and `{}`: a node that needs several inputs needs a recipe",
                                e.to.get_ref(),
                                name(g, other),
                                name(g, material)
                            ),
                            format!(
                                "give `{}` inputs = {{ {} = <t per t of output>, {} = <t per t> }}, or carry one material into it",
                                e.to.get_ref(),
                                name(g, other),
                                name(g, material)
                            ),
                        );
                    }
                    Some(_) => {}
                }
            } else if !ins.iter().any(|x| x.material == material) {
                return self.err(
                    Some(span),
                    format!(
                        "`{}` has no `{}` in its recipe",
                        e.to.get_ref(),
                        name(g, material)
                    ),
                    format!(
                        "its inputs are: {}; carry one of them, or add this one to `inputs`",
                        list(g, &mut ins.iter().map(|x| x.material))
                    ),
                );
            }
            g.edges[k].material = material;
        }
        for (i, n) in raw.nodes.iter().enumerate() {
            if g.nodes[i].kind == Kind::Demand
                && let Some(k) = first_in[i]
            {
                g.nodes[i].material = k;
            }
            for &Input { material: k, .. } in &recipes[i].inputs {
                if !g
                    .edges
                    .iter()
                    .any(|e| e.dst as usize == i && e.material == k)
                {
                    return self.err(
                        n.inputs.as_ref().map(|t| t.span()),
                        format!(
                            "recipe input `{}` of `{}` has no supplier",
                            name(g, k),
                            n.id.get_ref()
                        ),
                        format!(
                            "add an [[edge]] carrying material = \"{}\" into `{}`, or remove it from `inputs`",
                            name(g, k),
                            n.id.get_ref()
                        ),
                    );
                }
            }
        }
        Ok(())
    }
}

/// An edge between a node and one of its parts: no share to split, no offtake, closed to
/// re-routing, never restricted.
fn inner_edge(src: usize, dst: usize, material: u16) -> Edge {
    Edge {
        src: src as u32,
        dst: dst as u32,
        share: 1.0,
        offtake: 0.0,
        reroute: false,
        domestic: true,
        blocked_domestic: false,
        material,
        reach: NO_REACH,
    }
}

/// Adds part `part` of node `of` for material `k`, with its report capacity and kernel record;
/// returns its index.
fn add_part(c: &mut Checked, of: usize, k: u16, part: Part, capacity: f64, hot: Hot) -> usize {
    let p = c.nodes.len();
    let (node, mat) = (&c.nodes[of], &c.materials[k as usize]);
    let n = Node {
        id: format!("{}[{}]", node.id, mat.id),
        label: format!("{}: {}", node.label, mat.label),
        capacity,
        part,
        material: k,
        ..node.clone()
    };
    c.nodes.push(n);
    c.hot.push(hot);
    c.demand.push(None);
    p
}

/// Lays recipe nodes and co-product plants out as parts (see the module documentation); the
/// identity where the scenario declares no materials. Nodes and edges of the file keep their
/// indices (shocks refer to them); parts and the edges that join them come after.
pub(super) fn expand(mut c: Checked, recipes: &[Recipe]) -> Checked {
    if c.materials.is_empty() {
        return c;
    }
    let n_file = c.nodes.len();
    let mut before: Vec<Vec<usize>> = vec![Vec::new(); n_file];
    let mut after: Vec<Vec<usize>> = vec![Vec::new(); n_file];
    for (i, r) in recipes.iter().enumerate() {
        let (capacity, hot) = (c.nodes[i].capacity, c.hot[i]);
        if r.inputs.len() > 1 {
            for x in &r.inputs {
                let k = x.material;
                // The report's capacity: the input the recipe node needs at capacity. The
                // kernel's is unbounded: the part hands over whatever its stock allows.
                let kernel = Hot {
                    capacity: f64::INFINITY,
                    yield_: 1.0 / x.coef,
                    inv_yield: x.coef,
                    stock0: x.stock0,
                    stock_cap: x.stock_cap,
                    price: 0.0,
                    ..hot
                };
                let part = Part::Input {
                    of: i as u32,
                    material: k,
                };
                let p = add_part(&mut c, i, k, part, capacity * x.coef, kernel);
                for e in c.edges.iter_mut() {
                    if e.dst as usize == i && e.material == k {
                        e.dst = p as u32;
                    }
                }
                c.edges.push(inner_edge(p, i, k));
                before[i].push(p);
            }
            let h = &mut c.hot[i];
            h.yield_ = 1.0;
            h.inv_yield = 1.0;
            h.stock0 = 0.0;
            h.form = Form::Assembly;
        }
        if r.outputs.len() > 1 {
            // The edges to the parts carry the plant's throughput: tonnes of its feed.
            let feed = c
                .edges
                .iter()
                .find(|e| e.dst as usize == i)
                .map_or(0, |e| e.material);
            for &(k, share) in &r.outputs {
                // What the plant makes of it at capacity: a part hears of re-routed demand only
                // up to that.
                let part_capacity = capacity * share;
                let kernel = Hot {
                    capacity: part_capacity,
                    yield_: share,
                    // A part turns the plant's throughput into its product: even a mine's parts
                    // need the mine's output, so an outage of the mine cuts them all.
                    kind: if hot.kind == Kind::Mine {
                        Kind::Refinery
                    } else {
                        hot.kind
                    },
                    inv_yield: 1.0 / share,
                    stock0: 0.0,
                    stock_cap: if r.lose { 0.0 } else { f64::INFINITY },
                    has_offtake: false,
                    ..hot
                };
                let part = Part::Output {
                    of: i as u32,
                    material: k,
                };
                let p = add_part(&mut c, i, k, part, part_capacity, kernel);
                for e in c.edges.iter_mut() {
                    if e.src as usize == i && e.material == k {
                        e.src = p as u32;
                    }
                }
                c.edges.push(inner_edge(i, p, feed));
                after[i].push(p);
            }
            c.hot[i].form = if r.lose { Form::JointLose } else { Form::Joint };
        }
    }
    // Offtakes now sit on the parts' out-edges.
    for (n, h) in c.hot.iter_mut().enumerate() {
        h.has_offtake = c
            .edges
            .iter()
            .any(|e| e.src as usize == n && e.offtake > 0.0);
    }
    // Input parts just before their node, output parts just after it.
    c.order = c
        .order
        .iter()
        .flat_map(|&i| {
            let (b, a) = (&before[i], &after[i]);
            b.iter().copied().chain([i]).chain(a.iter().copied())
        })
        .collect();
    c
}
