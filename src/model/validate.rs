//! The first step: every value and cross-reference of a scenario checked, section by section,
//! with errors at their position in the file.

use super::*;

/// A scenario whose values and cross-references are all checked, still in file order (node and
/// edge indices are positions in the file): what [`super::compile::compile`] lays out. Nothing
/// that reaches this form can fail to compile.
pub(super) struct Checked {
    pub(super) name: String,
    pub(super) description: String,
    pub(super) periods: usize,
    pub(super) start: (i32, u32),
    pub(super) trials: u64,
    pub(super) seed: u64,
    pub(super) policy: Policy,
    pub(super) reroute_lag: u32,
    pub(super) thresholds: Vec<f64>,
    pub(super) regime: Option<Regime>,
    pub(super) countries: Vec<String>,
    pub(super) materials: Vec<Material>,
    pub(super) origins: Vec<u16>,
    pub(super) reaches: Vec<Reach>,
    pub(super) nodes: Vec<Node>,
    pub(super) hot: Vec<Hot>,
    /// Shares resolved; `blocked_domestic` set by the restrictions.
    pub(super) edges: Vec<Edge>,
    /// Node indices in topological order.
    pub(super) order: Vec<usize>,
    /// Per node, its demand if it is a demand node.
    pub(super) demand: Vec<Option<DemandNode>>,
    pub(super) shocks: Vec<Shock>,
    pub(super) warnings: Vec<String>,
}

/// The ids that name nodes: index by id, and every id in file order for messages.
struct Ids<'r> {
    index: HashMap<&'r str, usize>,
    known: Vec<&'r str>,
}

/// The supply graph while it is checked, in file order.
pub(super) struct Graph<'r> {
    ids: Ids<'r>,
    countries: Vec<String>,
    pub(super) materials: Vec<Material>,
    pub(super) nodes: Vec<Node>,
    pub(super) hot: Vec<Hot>,
    pub(super) edges: Vec<Edge>,
}

/// The shocks checked so far, with their ids (which must be unique).
#[derive(Default)]
struct Shocks {
    list: Vec<Shock>,
    ids: HashSet<String>,
}

impl Shocks {
    fn add(
        &mut self,
        c: &Compiler,
        id: String,
        span: Range<usize>,
        category: &'static str,
        kind: ShockKind,
    ) -> Res<()> {
        if !self.ids.insert(id.clone()) {
            return c.err(
                Some(span),
                format!("duplicate shock id `{id}`"),
                "give every shock a unique `id`",
            );
        }
        self.list.push(Shock {
            stream: stream_key(&id),
            id,
            category,
            kind,
        });
        Ok(())
    }
}

/// Whether messages should name materials: the scenario declares more than one.
fn kinds_named(materials: &[Material]) -> bool {
    materials.len() > 1
}

/// The index of country `c` among the nodes' countries.
fn country_of(countries: &[String], c: &str) -> Option<usize> {
    countries.iter().position(|x| x == c)
}

pub(super) struct Compiler<'a> {
    pub(super) path: &'a str,
    pub(super) text: &'a str,
}

pub(super) type Res<T> = Result<T, Diagnostic>;

/// "this one is 1.5" or "this one ranges over 0.2..1.5".
fn shown_range(lo: f64, hi: f64) -> String {
    if lo == hi {
        format!("this one is {lo}")
    } else {
        format!("this one ranges over {lo}..{hi}")
    }
}

/// A sum rounded to six decimals for messages (0.8999999999999999 reads as 0.9).
fn tidy(x: f64) -> f64 {
    (x * 1e6).round() / 1e6
}

impl Compiler<'_> {
    pub(super) fn err<T>(
        &self,
        span: Option<Range<usize>>,
        msg: impl Into<String>,
        help: impl Into<String>,
    ) -> Res<T> {
        Err(Diagnostic::new(self.path, self.text, span, msg, help))
    }

    fn month_index(&self, start: (i32, u32), y: i32, m: u32) -> i64 {
        (y as i64 * 12 + m as i64) - (start.0 as i64 * 12 + start.1 as i64)
    }

    /// Checks every value and cross-reference of `raw`, in the order of the file's sections.
    pub(super) fn validate(&self, raw: &RawScenario) -> Res<Checked> {
        let (periods, start, trials) = self.meta(&raw.scenario)?;
        let regime = match &raw.regime {
            None => None,
            Some(r) => Some(self.regime(r)?),
        };
        let states: Vec<String> = regime
            .as_ref()
            .map(|r| r.states.clone())
            .unwrap_or_default();
        let mut g = self.nodes(raw)?;
        g.edges = self.edges(raw, &g)?;
        let recipes = self.materials(raw, &mut g)?;
        let order = self.topological_order(raw, &g)?;
        let mut warnings = self.connections(raw, &g, &order)?;
        self.shares(raw, &mut g)?;
        self.offtakes(raw, &mut g)?;
        let demand = self.demand(raw, &g, periods, &mut warnings)?;
        let mut shocks = Shocks::default();
        self.outages(raw, &g, &states, &mut shocks)?;
        self.delays(raw, &g, start, &mut shocks)?;
        let (origins, reaches) = self.restrictions(raw, &mut g, &states, start, &mut shocks)?;
        self.tariffs(raw, &g, &states, start, &mut shocks)?;
        let meta = &raw.scenario;
        let checked = Checked {
            name: meta.name.get_ref().clone(),
            description: meta.description.clone(),
            periods: periods as usize,
            start,
            trials,
            seed: meta.seed,
            policy: meta.policy.into(),
            reroute_lag: meta.reroute_lag,
            thresholds: meta.thresholds.iter().map(|f| f.0).collect(),
            regime,
            countries: g.countries,
            materials: g.materials,
            origins,
            reaches,
            nodes: g.nodes,
            hot: g.hot,
            edges: g.edges,
            order,
            demand,
            shocks: shocks.list,
            warnings,
        };
        Ok(super::materials::expand(checked, &recipes))
    }

    /// The [scenario] table's horizon, first month and trial count.
    fn meta(&self, meta: &scenario::Meta) -> Res<(u32, (i32, u32), u64)> {
        let periods = *meta.periods.get_ref();
        if periods == 0 || periods > MAX_PERIODS {
            return self.err(
                Some(meta.periods.span()),
                format!("`periods` must be between 1 and {MAX_PERIODS}, got {periods}"),
                "set the horizon in months, e.g. periods = 36",
            );
        }
        let start = match scenario::parse_month(meta.start.get_ref()) {
            Ok(s) => s,
            Err(e) => {
                return self.err(
                    Some(meta.start.span()),
                    e,
                    "write the first month as start = \"2026-12\"",
                );
            }
        };
        if meta.name.get_ref().trim().is_empty() {
            return self.err(
                Some(meta.name.span()),
                "`name` in [scenario] is empty; it names the results and reports",
                "give the scenario a name, e.g. name = \"my-scenario\"",
            );
        }
        let trials = *meta.trials.get_ref();
        if !(1..=MAX_TRIALS).contains(&trials) {
            return self.err(
                Some(meta.trials.span()),
                format!("`trials` must be between 1 and {MAX_TRIALS} (one run), got {trials}"),
                "set a default such as trials = 10000; split larger runs with run --shard",
            );
        }
        Ok((periods, start, trials))
    }

    /// The nodes, in file order, with the ids that name them.
    fn nodes<'r>(&self, raw: &'r RawScenario) -> Res<Graph<'r>> {
        // Nodes.
        if raw.nodes.is_empty() {
            return self.err(
                None,
                "the supply graph is empty: the file has no [[node]] tables",
                "add at least one mine, the facilities it supplies and a demand node (see scenarios/README.md)",
            );
        }
        let mut index: HashMap<&str, usize> = HashMap::new();
        let mut countries: Vec<String> = Vec::new();
        let mut nodes = Vec::with_capacity(raw.nodes.len());
        let mut hot_of: Vec<Hot> = Vec::with_capacity(raw.nodes.len());
        for (i, n) in raw.nodes.iter().enumerate() {
            let id = n.id.get_ref().as_str();
            let kind = Kind::from(n.kind);
            if id.is_empty() {
                return self.err(
                    Some(n.id.span()),
                    "a node id cannot be empty",
                    "give the node a short unique id",
                );
            }
            if index.insert(id, i).is_some() {
                return self.err(
                    Some(n.id.span()),
                    format!("duplicate node id `{id}`"),
                    "give every node a unique id",
                );
            }
            let country = match countries.iter().position(|c| *c == n.country) {
                Some(c) => c,
                None => {
                    countries.push(n.country.clone());
                    countries.len() - 1
                }
            };
            let is_demand = kind == Kind::Demand;
            let capacity = match (&n.capacity, is_demand) {
                (Some(c), false) => c.get_ref().0,
                (None, false) => {
                    return self.err(
                        Some(n.id.span()),
                        format!("node `{id}` ({}) has no `capacity`", kind.name()),
                        "add capacity = <tonnes of output per period>",
                    );
                }
                (Some(c), true) => {
                    return self.err(
                        Some(c.span()),
                        format!("demand node `{id}` cannot have a `capacity`"),
                        "use `demand` for a demand node's tonnes per period",
                    );
                }
                (None, true) => f64::INFINITY,
            };
            if is_demand && n.demand.is_none() {
                return self.err(
                    Some(n.id.span()),
                    format!("demand node `{id}` has no `demand`"),
                    "add demand = <tonnes per period>",
                );
            }
            if !is_demand {
                if let Some(d) = &n.demand {
                    return self.err(
                        Some(d.span()),
                        format!(
                            "node `{id}` is a {}, only demand nodes have `demand`",
                            kind.name()
                        ),
                        "remove `demand`, or set kind = \"demand\"",
                    );
                }
                if n.cover.is_some() || n.stockpile.is_some() || n.growth.is_some() {
                    return self.err(
                        Some(n.id.span()),
                        format!("node `{id}` is a {}: `cover`, `stockpile` and `growth` belong to demand nodes", kind.name()),
                        "move them to a demand node, or use `stock` for a facility's input stock",
                    );
                }
            }
            let yield_ = match &n.yield_ {
                None => 1.0,
                Some(y) => {
                    let v = *y.get_ref();
                    if !(MIN_YIELD..=1.0 / MIN_YIELD).contains(&v) {
                        return self.err(
                            Some(y.span()),
                            format!(
                                "`yield` must be between {MIN_YIELD:e} and {:e}, got {v:?}",
                                1.0 / MIN_YIELD
                            ),
                            "give tonnes of output per tonne of input, e.g. yield = 0.7",
                        );
                    }
                    if is_demand && v != 1.0 {
                        return self.err(
                            Some(y.span()),
                            "demand nodes have no yield",
                            "remove `yield` from the demand node",
                        );
                    }
                    v
                }
            };
            if kind == Kind::Mine && n.stock.is_some_and(|s| s.0 > 0.0) {
                return self.err(
                    Some(n.id.span()),
                    format!("mine `{id}` has no inputs, so it cannot hold an input stock"),
                    "remove `stock`, or hold the stock at the buyer",
                );
            }
            let stock0 = n.stock.map_or(0.0, |s| s.0);
            let stock_cap = n.stock_cap.map_or(f64::INFINITY, |s| s.0);
            if stock0 > stock_cap {
                return self.err(
                    Some(n.id.span()),
                    format!(
                        "node `{id}` starts with stock {stock0} above its stock_cap {stock_cap}"
                    ),
                    "lower `stock` or raise `stock_cap`",
                );
            }
            nodes.push(Node {
                id: id.to_string(),
                label: n.label.clone().unwrap_or_else(|| id.to_string()),
                kind,
                country: country as u16,
                capacity,
                part: Part::Whole,
                material: 0,
            });
            hot_of.push(Hot {
                capacity,
                yield_,
                inv_yield: 1.0 / yield_,
                stock0,
                stock_cap,
                price: n.price.map_or(0.0, |p| p.0),
                kind,
                has_offtake: false,
                tariffed: false,
                reweighted: false,
                restricted: false,
                reroutes: false,
                form: Form::Plain,
            });
        }

        let known = raw.nodes.iter().map(|n| n.id.get_ref().as_str()).collect();
        Ok(Graph {
            ids: Ids { index, known },
            countries,
            materials: Vec::new(),
            nodes,
            hot: hot_of,
            edges: Vec::new(),
        })
    }

    /// The node that `s` names, or an error at `s` listing the ids.
    fn node_of(&self, ids: &Ids, s: &Spanned<String>, role: &str) -> Res<usize> {
        ids.index.get(s.get_ref().as_str()).copied().ok_or_else(|| {
            Diagnostic::new(
                self.path,
                self.text,
                Some(s.span()),
                format!("{role} `{}` is not a node", s.get_ref()),
                format!("use one of the node ids: {}", ids.known.join(", ")),
            )
        })
    }

    /// The edges, in file order; shares not given are NaN until [`Compiler::shares`].
    fn edges(&self, raw: &RawScenario, g: &Graph) -> Res<Vec<Edge>> {
        let Graph { ids, nodes, .. } = g;
        // Edges.
        let mut edges: Vec<Edge> = Vec::with_capacity(raw.edges.len());
        let mut seen = HashSet::new();
        for e in &raw.edges {
            let src = self.node_of(ids, &e.from, "edge `from`")?;
            let dst = self.node_of(ids, &e.to, "edge `to`")?;
            if src == dst {
                return self.err(
                    Some(e.to.span()),
                    format!("edge from `{}` to itself", e.from.get_ref()),
                    "an edge must join two different nodes",
                );
            }
            if nodes[src].kind == Kind::Demand {
                return self.err(
                    Some(e.from.span()),
                    format!("demand node `{}` cannot supply anything", e.from.get_ref()),
                    "edges run from suppliers to buyers; swap `from` and `to`?",
                );
            }
            if nodes[dst].kind == Kind::Mine {
                return self.err(
                    Some(e.to.span()),
                    format!("mine `{}` cannot buy inputs", e.to.get_ref()),
                    "edges run from suppliers to buyers; swap `from` and `to`?",
                );
            }
            // With materials, one pair may carry several (see `edge_materials`).
            if raw.materials.is_empty() && !seen.insert((src, dst)) {
                return self.err(
                    Some(e.to.span()),
                    format!(
                        "duplicate edge `{}` -> `{}`",
                        e.from.get_ref(),
                        e.to.get_ref()
                    ),
                    "declare each supplier -> buyer pair once",
                );
            }
            edges.push(Edge {
                src: src as u32,
                dst: dst as u32,
                share: e.share.as_ref().map_or(f64::NAN, |s| s.get_ref().0),
                offtake: e.offtake.as_ref().map_or(0.0, |s| s.get_ref().0),
                reroute: e.reroute,
                domestic: nodes[src].country == nodes[dst].country,
                blocked_domestic: false,
                material: 0,
                reach: NO_REACH,
            });
        }

        Ok(edges)
    }

    /// The nodes in topological order (Kahn), or an error at one edge of a cycle.
    fn topological_order(&self, raw: &RawScenario, g: &Graph) -> Res<Vec<usize>> {
        let Graph { nodes, edges, .. } = g;
        // Topological order (Kahn), reporting a cycle at one of its edges.
        let n_nodes = nodes.len();

        let mut indeg = vec![0usize; n_nodes];
        let mut succ: Vec<Vec<usize>> = vec![Vec::new(); n_nodes];
        for e in edges.iter() {
            indeg[e.dst as usize] += 1;
            succ[e.src as usize].push(e.dst as usize);
        }
        // Among nodes the graph leaves unordered, the one declared first comes first.
        let mut queue: BinaryHeap<Reverse<usize>> = (0..n_nodes)
            .filter(|&i| indeg[i] == 0)
            .map(Reverse)
            .collect();
        let mut order = Vec::with_capacity(n_nodes);
        while let Some(Reverse(i)) = queue.pop() {
            order.push(i);
            for &j in &succ[i] {
                indeg[j] -= 1;
                if indeg[j] == 0 {
                    queue.push(Reverse(j));
                }
            }
        }
        if order.len() < n_nodes {
            // Walk back along unfinished in-edges until a node repeats: that is a cycle.
            let mut cur = (0..n_nodes).find(|&i| indeg[i] > 0).unwrap_or(0);
            let mut path = vec![cur];
            loop {
                let prev = edges
                    .iter()
                    .find(|e| e.dst as usize == cur && indeg[e.src as usize] > 0)
                    .map_or(cur, |e| e.src as usize);
                if let Some(pos) = path.iter().position(|&p| p == prev) {
                    let mut cyc: Vec<usize> = path[pos..].to_vec();
                    cyc.reverse();
                    cyc.push(cyc[0]);
                    let names: Vec<&str> = cyc.iter().map(|&i| nodes[i].id.as_str()).collect();
                    let (a, b) = (cyc[0], cyc[1]);
                    let span = raw
                        .edges
                        .iter()
                        .find(|e| {
                            e.from.get_ref() == &nodes[a].id && e.to.get_ref() == &nodes[b].id
                        })
                        .map(|e| e.from.span());
                    return self.err(span, format!("the supply graph has a cycle: {}", names.join(" -> ")), "material must flow one way, from mines to demand; remove one edge of the cycle");
                }
                path.push(prev);
                cur = prev;
            }
        }
        Ok(order)
    }

    /// Checks that material can flow from mines to every demand node and that every facility has
    /// a supplier; warns of facilities without a buyer.
    fn connections(&self, raw: &RawScenario, g: &Graph, order: &[usize]) -> Res<Vec<String>> {
        let Graph { nodes, edges, .. } = g;
        let n_nodes = nodes.len();
        // Reachability from mines, and suppliers for every non-mine.
        let mut reach = vec![false; n_nodes];
        for &i in order {
            if nodes[i].kind == Kind::Mine {
                reach[i] = true;
            }
            if reach[i] {
                for e in edges.iter().filter(|e| e.src as usize == i) {
                    reach[e.dst as usize] = true;
                }
            }
        }
        for (i, n) in raw.nodes.iter().enumerate() {
            if nodes[i].kind == Kind::Demand && !reach[i] {
                return self.err(
                    Some(n.id.span()),
                    format!("demand node `{}` has no path from any mine", nodes[i].id),
                    "add edges so that material can flow from a mine to this node",
                );
            }
        }
        for (i, n) in raw.nodes.iter().enumerate() {
            if nodes[i].kind != Kind::Mine && !edges.iter().any(|e| e.dst as usize == i) {
                return self.err(
                    Some(n.id.span()),
                    format!(
                        "node `{}` ({}) has no supplier",
                        nodes[i].id,
                        nodes[i].kind.name()
                    ),
                    "add an [[edge]] into it, or make it a mine",
                );
            }
        }
        // The graph is acyclic, so where every other node has a buyer, every node's output can
        // reach demand.
        let warnings: Vec<String> = nodes
            .iter()
            .enumerate()
            .filter(|&(i, n)| {
                n.kind != Kind::Demand && !edges.iter().any(|e| e.src as usize == i)
            })
            .map(|(_, n)| {
                format!(
                    "node `{}` ({}) has no buyer, so nothing it makes reaches a demand node; add an [[edge]] out of it, or remove it",
                    n.id,
                    n.kind.name()
                )
            })
            .collect();
        if !nodes.iter().any(|n| n.kind == Kind::Demand) {
            return self.err(
                None,
                "the scenario has no demand node, so there is no shortfall to measure",
                "add a [[node]] with kind = \"demand\"",
            );
        }
        Ok(warnings)
    }

    /// Resolves each buyer's shares of each material it buys: a lone supplier gets 1, an edge
    /// without one 0 (standby); they must sum to 1.
    fn shares(&self, raw: &RawScenario, g: &mut Graph) -> Res<()> {
        let Graph {
            nodes,
            edges,
            materials,
            ..
        } = g;
        // Buyer-side shares, per material.
        for (b, n) in raw.nodes.iter().enumerate() {
            let mut kinds: Vec<u16> = edges
                .iter()
                .filter(|e| e.dst as usize == b)
                .map(|e| e.material)
                .collect();
            kinds.sort_unstable();
            kinds.dedup();
            for k in kinds {
                let carrying = match materials.get(k as usize) {
                    Some(m) if kinds_named(materials) => format!(" carrying `{}`", m.id),
                    _ => String::new(),
                };
                let ins: Vec<usize> = (0..edges.len())
                    .filter(|&e| edges[e].dst as usize == b && edges[e].material == k)
                    .collect();
                let given = ins.iter().filter(|&&e| !edges[e].share.is_nan()).count();
                if given == 0 {
                    if ins.len() == 1 {
                        edges[ins[0]].share = 1.0;
                        continue;
                    }
                    return self.err(Some(n.id.span()), format!("node `{}` has {} suppliers{carrying} but no edge into it gives a `share`", nodes[b].id, ins.len()), "give `share` (fraction of this buyer's needs) on its edges; they must sum to 1 (an edge without one is a standby supplier with share 0)");
                }
                let mut sum = 0.0;
                for &e in &ins {
                    if edges[e].share.is_nan() {
                        edges[e].share = 0.0;
                    }
                    sum += edges[e].share;
                }
                if (sum - 1.0).abs() > 1e-6 {
                    let first = ins
                        .iter()
                        .find_map(|&e| raw.edges[e].share.as_ref())
                        .map(|s| s.span());
                    return self.err(
                        first,
                        format!(
                            "the shares of the edges into `{}`{carrying} sum to {}, not 1",
                            nodes[b].id,
                            tidy(sum)
                        ),
                        "make the `share` values on the edges into this node add up to 1",
                    );
                }
            }
        }
        Ok(())
    }

    /// Checks each supplier's offtakes of each material sum to at most 1.
    fn offtakes(&self, raw: &RawScenario, g: &mut Graph) -> Res<()> {
        let Graph {
            nodes,
            edges,
            hot: hot_of,
            materials,
            ..
        } = g;
        // Supplier-side offtakes, per material.
        for (s, n) in raw.nodes.iter().enumerate() {
            let mut any = false;
            for k in 0..materials.len().max(1) as u16 {
                let sum: f64 = edges
                    .iter()
                    .filter(|e| e.src as usize == s && e.material == k)
                    .map(|e| e.offtake)
                    .sum();
                if sum > 1.0 + 1e-6 {
                    let of = match materials.get(k as usize) {
                        Some(m) if kinds_named(materials) => format!(" carrying `{}`", m.id),
                        _ => String::new(),
                    };
                    return self.err(
                        Some(n.id.span()),
                        format!(
                            "the offtakes of the edges out of `{}`{of} sum to {}, more than 1",
                            nodes[s].id,
                            tidy(sum)
                        ),
                        "make the `offtake` values on the edges out of this node add up to at most 1",
                    );
                }
                any |= sum > 0.0;
            }
            hot_of[s].has_offtake = any;
        }
        Ok(())
    }

    /// Each demand node's demand by period and stockpile, by node in file order.
    fn demand(
        &self,
        raw: &RawScenario,
        g: &Graph,
        periods: u32,
        warnings: &mut Vec<String>,
    ) -> Res<Vec<Option<DemandNode>>> {
        let nodes = &g.nodes;
        let n_nodes = nodes.len();
        // Demand.
        let mut demand_of = vec![None; n_nodes];
        for (i, n) in raw.nodes.iter().enumerate() {
            if nodes[i].kind != Kind::Demand {
                continue;
            }
            let base = n.demand.as_ref().map_or(0.0, |d| d.get_ref().0);
            let growth = n.growth.as_ref().map_or(0.0, |g| g.get_ref().0);
            let growth_span = n.growth.as_ref().map(|g| g.span());
            if growth <= -1.0 {
                return self.err(
                    growth_span.clone(),
                    format!(
                        "`growth` of `{}` must be above -1, got {growth}",
                        nodes[i].id
                    ),
                    "give an annual growth rate such as 0.08",
                );
            }
            let per_period: Vec<f64> = (0..periods)
                .map(|t| base * (1.0 + growth).powf(t as f64 / 12.0))
                .collect();
            let last = per_period.last().copied().unwrap_or(base);
            if !last.is_finite() || last > crate::scenario::MAX_QUANTITY {
                return self.err(
                    growth_span,
                    format!(
                        "`growth` = {growth:e} takes the demand of `{}` to {last:.3e} t per period by the end of the horizon, beyond any plausible tonnage ({:e})",
                        nodes[i].id,
                        crate::scenario::MAX_QUANTITY
                    ),
                    "give an annual growth rate such as 0.08",
                );
            }
            if let Some(g) = &n.growth
                && !(-0.5..=1.0).contains(&growth)
            {
                warnings.push(format!(
                    "line {}: `growth` = {growth} of `{}` is {:.0}% a year; growth is an annual fraction (0.08 for 8%): check it",
                    crate::scenario::error::line_of(self.text, g.span().start),
                    nodes[i].id,
                    100.0 * growth
                ));
            }
            let (stockpile, max_release) = match &n.stockpile {
                None => (0.0, f64::INFINITY),
                Some(sp) => {
                    let s = sp.get_ref();
                    let size =
                        match (s.periods, s.tonnes) {
                            (Some(p), None) => p.0 * base,
                            (None, Some(t)) => t.0,
                            _ => return self.err(
                                Some(sp.span()),
                                "a stockpile needs exactly one of `periods` and `tonnes`",
                                "write stockpile = { periods = 3 } or stockpile = { tonnes = 500 }",
                            ),
                        };
                    (size, s.max_release.map_or(f64::INFINITY, |m| m.0))
                }
            };
            demand_of[i] = Some(DemandNode {
                node: i as u32,
                total: per_period.iter().sum(),
                per_period,
                cover: n.cover.map_or(0.0, |c| c.0),
                stockpile,
                max_release,
                material: nodes[i].material,
            });
        }
        Ok(demand_of)
    }

    fn outages(
        &self,
        raw: &RawScenario,
        g: &Graph,
        states: &[String],
        shocks: &mut Shocks,
    ) -> Res<()> {
        let Graph { ids, nodes, .. } = g;
        for o in &raw.outages {
            let node = self.node_of(ids, &o.node, "outage `node`")?;
            if nodes[node].kind == Kind::Demand {
                return self.err(
                    Some(o.node.span()),
                    "outages apply to facilities, not demand nodes",
                    "name a mine, refinery, metal or magnet node",
                );
            }
            let id =
                o.id.clone()
                    .unwrap_or_else(|| format!("outage:{}", nodes[node].id));
            let severity = match &o.severity {
                None => Dist::Fixed(1.0),
                Some(s) => self.fraction_dist(s, "severity")?,
            };
            let kind = match (&o.p_fail, &o.p_recover, &o.p_event, &o.duration) {
                (Some(f), Some(r), None, None) => ShockKind::Markov {
                    node: node as u32,
                    p_fail: self.prob(f, states, "p_fail")?,
                    p_recover: self.prob(r, states, "p_recover")?,
                    initial: o.initial.into(),
                    severity,
                },
                (None, None, Some(p), Some(d)) => ShockKind::Events {
                    node: node as u32,
                    p_event: self.prob(p, states, "p_event")?,
                    duration: self.period_dist(d, "duration")?,
                    severity,
                },
                _ => return self.err(Some(o.node.span()), format!("outage `{id}` must be either a Markov process (`p_fail` and `p_recover`) or random events (`p_event` and `duration`)"), "give p_fail and p_recover, or p_event and duration, not a mix"),
            };
            shocks.add(self, id, o.node.span(), "outage", kind)?;
        }
        Ok(())
    }

    fn delays(
        &self,
        raw: &RawScenario,
        g: &Graph,
        start: (i32, u32),
        shocks: &mut Shocks,
    ) -> Res<()> {
        let Graph { ids, nodes, .. } = g;
        for d in &raw.delays {
            let node = self.node_of(ids, &d.node, "delay `node`")?;
            if nodes[node].kind == Kind::Demand {
                return self.err(
                    Some(d.node.span()),
                    "delays apply to facilities, not demand nodes",
                    "name a mine, refinery, metal or magnet node",
                );
            }
            let nominal = match *d.nominal.get_ref() {
                Period::Index(i) => i,
                Period::Month(y, m) => self.month_index(start, y, m),
            };
            if nominal.unsigned_abs() > MAX_PERIOD_OFFSET.unsigned_abs() {
                return self.err(
                    Some(d.nominal.span()),
                    format!("`nominal` lies {nominal} periods from the start of the horizon; a planned start must lie within {MAX_PERIOD_OFFSET} periods of it"),
                    "give the planned start as a month (nominal = \"2027-06\") or as a period index from the start (nominal = 6; negative for a plant that was due before the horizon starts)",
                );
            }
            let delay = match &d.delay {
                None => Dist::Fixed(0.0),
                Some(x) => self.period_dist(x, "delay")?,
            };
            let ramp = match &d.ramp {
                None => Dist::Fixed(0.0),
                Some(x) => self.period_dist(x, "ramp")?,
            };
            let id =
                d.id.clone()
                    .unwrap_or_else(|| format!("delay:{}", nodes[node].id));
            shocks.add(
                self,
                id,
                d.node.span(),
                "delay",
                ShockKind::Delay {
                    node: node as u32,
                    nominal,
                    delay,
                    ramp,
                },
            )?;
        }
        Ok(())
    }

    fn restrictions(
        &self,
        raw: &RawScenario,
        g: &mut Graph,
        states: &[String],
        start: (i32, u32),
        shocks: &mut Shocks,
    ) -> Res<(Vec<u16>, Vec<Reach>)> {
        let mut selected = Vec::with_capacity(raw.restrictions.len());
        for r in &raw.restrictions {
            selected.push(self.selected_materials(g, &r.materials)?);
        }
        let Graph {
            ids,
            countries,
            nodes,
            edges,
            ..
        } = g;
        // Per edge: covered as a restricting country's own export (not through a reach).
        let mut direct = vec![false; edges.len()];
        // Per edge: the restriction that reaches it through its content's origin.
        let mut reached_by: Vec<Option<usize>> = vec![None; edges.len()];
        let mut origins: Vec<u16> = Vec::new();
        let mut reaches: Vec<Reach> = Vec::new();
        for (ri, (r, materials)) in raw.restrictions.iter().zip(selected).enumerate() {
            let Some(c) = country_of(countries, r.country.get_ref()) else {
                return self.err(
                    Some(r.country.span()),
                    format!("no node is in country `{}`", r.country.get_ref()),
                    format!(
                        "use one of the countries of the nodes: {}",
                        countries.join(", ")
                    ),
                );
            };
            let dest_ok = |dst: usize| {
                let dc = &countries[nodes[dst].country as usize];
                (r.to.is_empty() || r.to.contains(dc)) && !r.exempt.contains(dc)
            };
            let mut covered: Vec<u32> = Vec::new();
            if r.routes.is_empty() {
                for (k, e) in edges.iter().enumerate() {
                    let (s, t) = (e.src as usize, e.dst as usize);
                    if nodes[s].country as usize == c
                        && !e.domestic
                        && dest_ok(t)
                        && (r.stages.is_empty()
                            || r.stages.iter().any(|&k| Kind::from(k) == nodes[s].kind))
                    {
                        covered.push(k as u32);
                    }
                }
            } else {
                for route in &r.routes {
                    // Every edge of the pair (one per material it carries).
                    let found: Vec<u32> = route
                        .get_ref()
                        .split_once("->")
                        .and_then(|(a, b)| {
                            let (a, b) = (ids.index.get(a.trim())?, ids.index.get(b.trim())?);
                            Some(
                                (0..edges.len() as u32)
                                    .filter(|&k| {
                                        let e = &edges[k as usize];
                                        e.src as usize == *a && e.dst as usize == *b
                                    })
                                    .collect(),
                            )
                        })
                        .unwrap_or_default();
                    match found.first() {
                        Some(k) if covered.contains(k) => {
                            return self.err(
                                Some(route.span()),
                                format!(
                                    "route `{}` names the same edge as an earlier route",
                                    route.get_ref()
                                ),
                                "name each route once",
                            );
                        }
                        Some(_) => covered.extend(found),
                        None => {
                            return self.err(
                                Some(route.span()),
                                format!("route `{}` is not an edge of the graph", route.get_ref()),
                                "write routes as \"from_id->to_id\" naming an existing [[edge]]",
                            );
                        }
                    }
                }
            }
            if let Some(ks) = &materials {
                covered.retain(|&k| ks.contains(&edges[k as usize].material));
            }
            for &k in &covered {
                direct[k as usize] = true;
            }
            if let Some(dm) = &r.de_minimis {
                if !r.routes.is_empty() {
                    return self.err(
                        Some(dm.span()),
                        format!("restriction `{}` gives both `routes` and `de_minimis`", r.id.get_ref()),
                        "a reach covers other countries' exports by stage, material and destination: give it in a restriction of its own, without `routes`",
                    );
                }
                // The reach: other countries' cross-border exports of the chosen stages,
                // materials and destinations, restricted while their content of this country's
                // origin is above the de minimis share.
                let origin = match origins.iter().position(|&o| o as usize == c) {
                    Some(k) => k,
                    None => {
                        origins.push(c as u16);
                        origins.len() - 1
                    }
                };
                let reach = Reach {
                    origin: origin as u16,
                    threshold: dm.get_ref().0,
                };
                let index = match reaches.iter().position(|x| *x == reach) {
                    Some(k) => k as u16,
                    None if reaches.len() < NO_REACH as usize => {
                        reaches.push(reach);
                        (reaches.len() - 1) as u16
                    }
                    None => {
                        return self.err(
                            Some(dm.span()),
                            "too many different de minimis reaches",
                            "a scenario may have at most 65535 different `de_minimis` reaches",
                        );
                    }
                };
                for (k, e) in edges.iter_mut().enumerate() {
                    let (s, t) = (e.src as usize, e.dst as usize);
                    let dc = &countries[nodes[t].country as usize];
                    if nodes[s].country as usize != c
                        && nodes[t].country as usize != c
                        && !e.domestic
                        && (r.to.is_empty() || r.to.contains(dc))
                        && !r.exempt.contains(dc)
                        && (r.stages.is_empty()
                            || r.stages.iter().any(|&k| Kind::from(k) == nodes[s].kind))
                        && materials.as_ref().is_none_or(|ks| ks.contains(&e.material))
                    {
                        if e.reach != NO_REACH && e.reach != index {
                            return self.err(
                                Some(dm.span()),
                                format!(
                                    "edge `{}` -> `{}` is reached by restrictions with different origins or de minimis shares",
                                    nodes[s].id, nodes[t].id
                                ),
                                "give the restrictions that reach other countries' exports the same country and `de_minimis`",
                            );
                        }
                        e.reach = index;
                        reached_by[k] = Some(ri);
                        covered.push(k as u32);
                    }
                }
            }
            if covered.is_empty() {
                return self.err(Some(r.id.span()), format!("restriction `{}` covers no edge: no cross-border edge leaves `{}` for the chosen stages, materials and destinations", r.id.get_ref(), r.country.get_ref()), "check `country`, `stages`, `materials`, `to` and `exempt`");
            }
            if r.blocked == Blocked::Domestic {
                for &k in &covered {
                    edges[k as usize].blocked_domestic = true;
                }
            }
            let kind = ShockKind::Restriction {
                edges: covered,
                severity: self.fraction_dist(&r.severity, "severity")?,
                licensing_lag: r
                    .licensing_lag
                    .as_ref()
                    .map(|x| self.period_dist(x, "licensing_lag"))
                    .transpose()?,
                licensed_severity: r
                    .licensed_severity
                    .as_ref()
                    .map(|x| self.fraction_dist(x, "licensed_severity"))
                    .transpose()?,
                timing: self.timing(&r.when, states, start, r.id.span())?,
            };
            shocks.add(
                self,
                r.id.get_ref().clone(),
                r.id.span(),
                "restriction",
                kind,
            )?;
        }
        // A reached edge is restricted only while its content is above the de minimis share,
        // which would also gate a restriction of its own exporter.
        if let Some(k) = (0..edges.len()).find(|&k| direct[k] && edges[k].reach != NO_REACH) {
            let e = &edges[k];
            let span = reached_by[k]
                .and_then(|ri| raw.restrictions[ri].de_minimis.as_ref())
                .map(|d| d.span());
            return self.err(
                span,
                format!(
                    "edge `{}` -> `{}` is covered both by its own country's restriction and by another country's reach (`de_minimis`)",
                    nodes[e.src as usize].id, nodes[e.dst as usize].id
                ),
                "narrow one of them with `stages`, `materials`, `to` or `exempt`",
            );
        }
        Ok((origins, reaches))
    }

    fn tariffs(
        &self,
        raw: &RawScenario,
        g: &Graph,
        states: &[String],
        start: (i32, u32),
        shocks: &mut Shocks,
    ) -> Res<()> {
        let Graph {
            countries,
            nodes,
            edges,
            ..
        } = g;
        for t in &raw.tariffs {
            let materials = self.selected_materials(g, &t.materials)?;
            let (Some(a), Some(b)) = (country_of(countries, &t.from), country_of(countries, &t.to))
            else {
                return self.err(
                    Some(t.id.span()),
                    format!(
                        "tariff `{}`: no node is in country `{}` or `{}`",
                        t.id.get_ref(),
                        t.from,
                        t.to
                    ),
                    format!("use countries of the nodes: {}", countries.join(", ")),
                );
            };
            let covered: Vec<u32> = (0..edges.len())
                .filter(|&k| {
                    let e = &edges[k];
                    nodes[e.src as usize].country as usize == a
                        && nodes[e.dst as usize].country as usize == b
                        && (t.stages.is_empty()
                            || t.stages
                                .iter()
                                .any(|&k| Kind::from(k) == nodes[e.src as usize].kind))
                        && materials.as_ref().is_none_or(|ks| ks.contains(&e.material))
                })
                .map(|k| k as u32)
                .collect();
            if covered.is_empty() || a == b {
                return self.err(Some(t.id.span()), format!("tariff `{}` covers no edge from `{}` to `{}`", t.id.get_ref(), t.from, t.to), "a tariff needs at least one edge from a node in `from` to a node in `to` (of the chosen stages and materials)");
            }
            let kind = ShockKind::Tariff {
                edges: covered,
                rate: self.nonneg_dist(&t.rate, "rate")?,
                elasticity: t.elasticity.0,
                timing: self.timing(&t.when, states, start, t.id.span())?,
            };
            shocks.add(self, t.id.get_ref().clone(), t.id.span(), "tariff", kind)?;
        }
        Ok(())
    }

    /// The materials a restriction or tariff names, or `None` for every material.
    fn selected_materials(&self, g: &Graph, names: &[Spanned<String>]) -> Res<Option<Vec<u16>>> {
        if names.is_empty() {
            return Ok(None);
        }
        names
            .iter()
            .map(|m| self.material_of(g, m.get_ref(), m.span()))
            .collect::<Res<Vec<u16>>>()
            .map(Some)
    }

    fn regime(&self, r: &Spanned<scenario::RawRegime>) -> Res<Regime> {
        let raw = r.get_ref();
        let n = raw.states.len();
        if n == 0 || n > MAX_STATES {
            return self.err(
                Some(r.span()),
                format!("a regime needs between 1 and {MAX_STATES} states, got {n}"),
                "list the states, e.g. states = [\"truce\", \"tension\", \"escalation\"]",
            );
        }
        let mut seen = HashSet::new();
        for s in &raw.states {
            if !seen.insert(s) {
                return self.err(
                    Some(r.span()),
                    format!("regime state `{s}` is listed twice"),
                    "give each state a unique name",
                );
            }
        }
        let Some(initial) = raw.states.iter().position(|s| s == raw.initial.get_ref()) else {
            return self.err(
                Some(raw.initial.span()),
                format!(
                    "initial regime state `{}` is not in `states`",
                    raw.initial.get_ref()
                ),
                format!("use one of: {}", raw.states.join(", ")),
            );
        };
        let m = raw.transition.get_ref();
        if m.len() != n || m.iter().any(|row| row.0.len() != n) {
            return self.err(
                Some(raw.transition.span()),
                format!(
                    "`transition` must be a {n} x {n} matrix (one row and one column per state)"
                ),
                "write one row per state, each with one probability per state",
            );
        }
        let mut rows = Vec::with_capacity(n);
        let mut uncertain = Vec::with_capacity(n);
        for (i, row) in m.iter().enumerate() {
            let from = &raw.states[i];
            let entries = &row.0;
            if entries.iter().all(Dist::is_fixed) {
                let p: Vec<f64> = entries.iter().map(|d| d.support().0).collect();
                let sum: f64 = p.iter().sum();
                if (sum - 1.0).abs() > 1e-6 {
                    return self.err(
                        Some(raw.transition.span()),
                        format!(
                            "row {} of `transition` (from `{from}`) sums to {sum}, not 1",
                            i + 1
                        ),
                        "each row holds the probabilities of the next state and must add up to 1",
                    );
                }
                rows.push(p);
                uncertain.push(None);
            } else {
                // Weights drawn per trial and divided by their sum: none may be negative, and
                // some must be able to be positive.
                let (lo, hi) = entries.iter().fold((0.0f64, 0.0f64), |(lo, hi), d| {
                    let (a, b) = d.support();
                    (lo.min(a), hi + b)
                });
                if lo < 0.0 || hi <= 0.0 {
                    return self.err(
                        Some(raw.transition.span()),
                        format!(
                            "row {} of `transition` (from `{from}`) has uncertain entries that can be negative or are all zero",
                            i + 1
                        ),
                        "give each entry as a probability or a distribution of non-negative weights (e.g. beta or gamma); a drawn row is divided by its sum",
                    );
                }
                // Placeholders: every trial draws its own row (see `Regime::uncertain`).
                rows.push(vec![0.0; n]);
                uncertain.push(Some(entries.clone()));
            }
        }
        let (holding, next_cdf) = rows
            .iter()
            .enumerate()
            .map(|(i, p)| chain_row(i, p))
            .unzip();
        Ok(Regime {
            states: raw.states.clone(),
            initial,
            holding,
            next_cdf,
            uncertain,
        })
    }

    /// A per-period probability, maybe by regime state; every value must lie in [0, 1].
    fn prob(&self, p: &Spanned<Param>, states: &[String], key: &str) -> Res<RParam> {
        let (lo, hi) = p.get_ref().support();
        if !(lo >= 0.0 && hi <= 1.0) {
            return self.err(
                Some(p.span()),
                format!(
                    "`{key}` is a probability, so every value must lie between 0 and 1 ({})",
                    shown_range(lo, hi)
                ),
                format!("give `{key}` as a probability between 0 and 1, e.g. {key} = 0.02"),
            );
        }
        self.param(p, states, key)
    }

    fn param(&self, p: &Spanned<Param>, states: &[String], key: &str) -> Res<RParam> {
        match p.get_ref() {
            Param::Same(d) => Ok(RParam::Same(d.clone())),
            Param::ByRegime(v) => {
                if states.is_empty() {
                    return self.err(
                        Some(p.span()),
                        format!(
                            "`{key}` is given per regime state, but the scenario has no [regime]"
                        ),
                        "add a [regime] table, or give a single value",
                    );
                }
                let keys = scenario::regime_keys(p.get_ref());
                for k in &keys {
                    if !states.iter().any(|s| s == k) {
                        return self.err(
                            Some(p.span()),
                            format!(
                                "`{key}` names regime state `{k}`, which is not in [regime] states"
                            ),
                            format!("use the states: {}", states.join(", ")),
                        );
                    }
                }
                let mut out = Vec::with_capacity(states.len());
                for s in states {
                    match v.iter().find(|(k, _)| k == s) {
                        Some((_, d)) => out.push(d.clone()),
                        None => {
                            return self.err(
                                Some(p.span()),
                                format!("`{key}` gives no value for regime state `{s}`"),
                                format!("give a value for every state: {}", states.join(", ")),
                            );
                        }
                    }
                }
                Ok(RParam::ByRegime(out))
            }
        }
    }

    fn fraction_dist(&self, d: &Spanned<Dist>, key: &str) -> Res<Dist> {
        let (lo, hi) = d.get_ref().support();
        if !(lo >= 0.0 && hi <= 1.0) {
            return self.err(Some(d.span()), format!("`{key}` is a fraction, so every value must lie between 0 and 1 ({})", shown_range(lo, hi)), format!("use a fraction, e.g. {key} = 0.5, or a distribution bounded by 0 and 1 (beta, pert, uniform)"));
        }
        Ok(d.get_ref().clone())
    }

    fn nonneg_dist(&self, d: &Spanned<Dist>, key: &str) -> Res<Dist> {
        let (lo, _) = d.get_ref().support();
        if lo < 0.0 || lo.is_nan() {
            return self.err(Some(d.span()), format!("`{key}` cannot be negative (this distribution reaches {lo})"), format!("use a distribution on non-negative values for `{key}` (lognormal, pert, uniform with low >= 0)"));
        }
        Ok(d.get_ref().clone())
    }

    /// A distribution of a number of periods: non-negative, and within
    /// [`MAX_PERIOD_OFFSET`] where its support is bounded (a lognormal's is not: the kernel
    /// caps its draws).
    fn period_dist(&self, d: &Spanned<Dist>, key: &str) -> Res<Dist> {
        let dist = self.nonneg_dist(d, key)?;
        let (_, hi) = dist.support();
        if hi.is_finite() && hi > MAX_PERIOD_OFFSET as f64 {
            return self.err(
                Some(d.span()),
                format!("`{key}` reaches {hi} periods; it must stay within {MAX_PERIOD_OFFSET}"),
                format!("give `{key}` in periods (months), e.g. {key} = 6 or a distribution such as {{ dist = \"lognormal\", median = 6, p90 = 18 }}"),
            );
        }
        Ok(dist)
    }

    fn timing(
        &self,
        w: &RawTiming,
        states: &[String],
        start: (i32, u32),
        span: Range<usize>,
    ) -> Res<Timing> {
        let stationary = w
            .initial
            .as_ref()
            .filter(|i| *i.get_ref() == scenario::EpisodeInitial::Stationary);
        if let Some(i) = &w.initial {
            if w.p_start.is_none() {
                return self.err(
                    Some(i.span()),
                    "`initial` needs `p_start`: it says whether an on/off episode is already under way in period 0",
                    "remove `initial`, or start episodes with a per-period probability p_start",
                );
            }
            if stationary.is_some() && w.p_end.is_none() {
                return self.err(
                    Some(i.span()),
                    "initial = \"stationary\" needs `p_end`: an episode already under way in period 0 has a geometric remaining length only when episodes end with a per-period probability",
                    "give p_end instead of `duration` (p_end = 1 / mean length), or remove `initial`",
                );
            }
        }
        let start_rule = match (&w.at, &w.p_start) {
            (Some(_), Some(_)) => {
                return self.err(
                    Some(span),
                    "`when` has both `at` and `p_start`",
                    "use `at` for a scheduled episode or `p_start` for a recurring one, not both",
                );
            }
            (None, None) => {
                if let Some(p) = &w.probability {
                    return self.err(
                        Some(p.span()),
                        "`probability` needs `at`",
                        "add at = <period> to schedule the episode",
                    );
                }
                Start::Always
            }
            (Some(at), None) => {
                let at_dist = match at.get_ref() {
                    When::Month(y, m) => Dist::Fixed(self.month_index(start, *y, *m) as f64),
                    When::Periods(d) => d.clone(),
                };
                let (lo, hi) = at_dist.support();
                let far = |x: f64| x.is_finite() && x.abs() > MAX_PERIOD_OFFSET as f64;
                if far(lo) || far(hi) {
                    let x = if far(lo) { lo } else { hi };
                    return self.err(
                        Some(at.span()),
                        format!("`at` reaches {x} periods from the start of the horizon; a scheduled start must lie within {MAX_PERIOD_OFFSET} periods of it"),
                        "give the start as a month (at = \"2027-03\") or as a period index from the start (at = 3)",
                    );
                }
                let probability = match &w.probability {
                    None => RParam::Same(Dist::Fixed(1.0)),
                    Some(p) => self.prob(p, states, "probability")?,
                };
                Start::At {
                    at: at_dist,
                    probability,
                }
            }
            (None, Some(p)) => {
                if let Some(q) = &w.probability {
                    return self.err(Some(q.span()), "`probability` needs `at`", "with `p_start`, the per-period probability already says how likely an episode is");
                }
                Start::Hazard {
                    p: self.prob(p, states, "p_start")?,
                    stationary: stationary.is_some(),
                }
            }
        };

        let length = match (&w.duration, &w.p_end) {
            (Some(d), None) => Length::Periods(self.period_dist(d, "duration")?),
            (None, Some(p)) => Length::Hazard(self.prob(p, states, "p_end")?),
            (None, None) => Length::Forever,
            (Some(d), Some(_)) => {
                return self.err(
                    Some(d.span()),
                    "`when` has both `duration` and `p_end`",
                    "give one way for an episode to end",
                );
            }
        };
        Ok(Timing {
            start: start_rule,
            length,
        })
    }
}
