//! `ToolStore`: tools with unique names and their attachment to agents.

use std::collections::BTreeSet;
use std::sync::Arc;

use mneme_types::{AgentId, Tool, ToolId};

use super::fixtures::*;
use crate::{Order, Page, Store, ToolEdit, ToolFilter};

fn edit(f: impl FnOnce(&mut Tool) + Send + 'static) -> ToolEdit {
    Box::new(move |t| {
        f(t);
        Ok(())
    })
}

/// Creates tools one call at a time, the clock moving between them.
async fn tools_in_order(store: &dyn Store, specs: &[(&str, &str)]) -> Vec<ToolId> {
    let mut out = Vec::new();
    for (name, kind) in specs {
        let made = store.upsert_tools(vec![tool(name, kind)]).await.unwrap();
        out.push(made[0].id);
        pause().await;
    }
    out
}

async fn names(store: &dyn Store, agent: AgentId) -> Vec<String> {
    ids(&store.agent_tools(agent).await.unwrap(), |t| t.name.clone())
}

pub async fn upsert_keeps_ids_by_name(store: Arc<dyn Store>) {
    let (a, b) = (tool("a", "custom"), tool("b", "custom"));
    let made = store
        .upsert_tools(vec![a.clone(), b.clone()])
        .await
        .unwrap();
    assert_eq!(made, [a.clone(), b.clone()]);
    assert_eq!(store.get_tool(a.id).await.unwrap(), a);
    let mut again = tool("a", "custom");
    again.description = Some("better".into());
    let c = tool("c", "letta_core");
    let made = store
        .upsert_tools(vec![again.clone(), c.clone()])
        .await
        .unwrap();
    assert_eq!(
        ids(&made, |t| t.id),
        [a.id, c.id],
        "an existing name keeps its id"
    );
    let stored = store.get_tool(a.id).await.unwrap();
    assert_eq!(stored.description.as_deref(), Some("better"));
    assert_eq!(stored, made[0]);
    assert_not_found(store.get_tool(again.id).await);
    assert_eq!(store.count_tools(&ToolFilter::default()).await.unwrap(), 3);
    assert_not_found(store.get_tool(ToolId::new()).await);
}

pub async fn tools_by_name_answer_in_the_order_asked(store: Arc<dyn Store>) {
    tools_in_order(
        &*store,
        &[("a", "custom"), ("b", "custom"), ("c", "custom")],
    )
    .await;
    let asked = ["c".to_owned(), "missing".to_owned(), "a".to_owned()];
    let got = store.tools_by_name(&asked).await.unwrap();
    assert_eq!(ids(&got, |t| t.name.clone()), ["c", "a"]);
    assert!(store.tools_by_name(&[]).await.unwrap().is_empty());
}

pub async fn tool_filters_and_counts_agree(store: Arc<dyn Store>) {
    let specs = [
        ("alpha", "custom"),
        ("Beta", "custom"),
        ("gamma", "letta_core"),
        ("delta", "external_mcp"),
    ];
    let t = tools_in_order(&*store, &specs).await;
    let strings = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    let f = |g: &dyn Fn(&mut ToolFilter)| with(g);
    let cases = [
        (ToolFilter::default(), t.clone()),
        (
            f(&|f| f.names = strings(&["alpha", "gamma"])),
            vec![t[0], t[2]],
        ),
        (f(&|f| f.ids = vec![t[1]]), vec![t[1]]),
        (f(&|f| f.search = Some("ALP".into())), vec![t[0]]),
        (f(&|f| f.search = Some(String::new())), t.clone()),
        (f(&|f| f.tool_types = strings(&["letta_core"])), vec![t[2]]),
        (
            f(&|f| f.exclude_tool_types = strings(&["custom"])),
            vec![t[2], t[3]],
        ),
        (
            f(&|f| (f.names, f.tool_types) = (strings(&["alpha", "gamma"]), strings(&["custom"]))),
            vec![t[0]],
        ),
    ];
    for (filter, expected) in cases {
        let got = store
            .list_tools(&filter, &page(10, Order::Asc))
            .await
            .unwrap();
        let got: BTreeSet<_> = got.iter().map(|t| t.id).collect();
        let expected: BTreeSet<_> = expected.into_iter().collect();
        assert_eq!(got, expected, "{filter:?}");
        let count = store.count_tools(&filter).await.unwrap();
        assert_eq!(count, expected.len() as u64, "count of {filter:?}");
    }
}

pub async fn tool_pages_follow_cursors(store: Arc<dyn Store>) {
    let specs = [
        ("t0", "custom"),
        ("t1", "custom"),
        ("t2", "custom"),
        ("t3", "custom"),
    ];
    let t = tools_in_order(&*store, &specs).await;
    let list = |page: Page| {
        let store = store.clone();
        async move {
            let got = store
                .list_tools(&ToolFilter::default(), &page)
                .await
                .unwrap();
            ids(&got, |t| t.id)
        }
    };
    assert_eq!(list(page(2, Order::Asc)).await, t[..2]);
    assert_eq!(list(cursor(page(10, Order::Asc), t[1], true)).await, t[2..]);
    assert_eq!(list(page(2, Order::Desc)).await, [t[3], t[2]]);
    assert_eq!(
        list(cursor(page(10, Order::Desc), t[1], true)).await,
        [t[0]]
    );
    assert_eq!(
        list(cursor(page(2, Order::Asc), ToolId::new(), true)).await,
        t[..2]
    );
}

pub async fn update_tool_applies_the_edit_or_nothing(store: Arc<dyn Store>) {
    let t = tools_in_order(&*store, &[("one", "custom"), ("two", "custom")]).await;
    let other = ToolId::new();
    let updated = store
        .update_tool(
            t[0],
            edit(move |t| {
                t.description = Some("new".into());
                t.id = other;
            }),
        )
        .await
        .unwrap();
    assert_eq!(updated.id, t[0], "the id is not editable");
    assert_eq!(store.get_tool(t[0]).await.unwrap(), updated);
    assert_not_found(store.get_tool(other).await);

    let taken = edit(|t| {
        t.name = "two".into();
        t.description = Some("clash".into());
    });
    assert_conflict(store.update_tool(t[0], taken).await);
    assert_eq!(store.get_tool(t[0]).await.unwrap(), updated);
    let refused_edit: ToolEdit = Box::new(|t| {
        t.description = Some("refused".into());
        Err(refused())
    });
    assert_invalid(store.update_tool(t[0], refused_edit).await);
    assert_eq!(store.get_tool(t[0]).await.unwrap(), updated);

    store
        .update_tool(t[0], edit(|t| t.name = "uno".into()))
        .await
        .unwrap();
    let found = store
        .tools_by_name(&["uno".into(), "one".into()])
        .await
        .unwrap();
    assert_eq!(ids(&found, |t| t.id), [t[0]], "the old name is free again");
    assert_not_found(store.update_tool(ToolId::new(), edit(|_| {})).await);
}

pub async fn delete_tool_detaches_it(store: Arc<dyn Store>) {
    let t = tools_in_order(&*store, &[("gone", "custom"), ("kept", "custom")]).await;
    let a = agent(&*store, "a").await;
    store.attach_tool(a.id, t[0]).await.unwrap();
    store.attach_tool(a.id, t[1]).await.unwrap();
    store.delete_tool(t[0]).await.unwrap();
    assert_eq!(names(&*store, a.id).await, ["kept"]);
    assert_not_found(store.get_tool(t[0]).await);
    assert_not_found(store.delete_tool(t[0]).await);
    assert!(
        store
            .tools_by_name(&["gone".into()])
            .await
            .unwrap()
            .is_empty()
    );
}

pub async fn attached_tools_keep_their_order(store: Arc<dyn Store>) {
    let specs = [("t0", "custom"), ("t1", "custom"), ("t2", "custom")];
    let t = tools_in_order(&*store, &specs).await;
    let a = agent(&*store, "a").await;
    for id in [t[2], t[0], t[1], t[0]] {
        store.attach_tool(a.id, id).await.unwrap();
    }
    assert_eq!(
        names(&*store, a.id).await,
        ["t2", "t0", "t1"],
        "attaching twice changes nothing"
    );
    store.detach_tool(a.id, t[0]).await.unwrap();
    assert_eq!(names(&*store, a.id).await, ["t2", "t1"]);
    store.detach_tool(a.id, t[0]).await.unwrap();
    store.attach_tool(a.id, t[0]).await.unwrap();
    assert_eq!(
        names(&*store, a.id).await,
        ["t2", "t1", "t0"],
        "attached at the end"
    );
    let (agent, tool) = (AgentId::new(), ToolId::new());
    assert_not_found(store.attach_tool(agent, t[0]).await);
    assert_not_found(store.attach_tool(a.id, tool).await);
    assert_not_found(store.detach_tool(agent, t[0]).await);
    assert_not_found(store.detach_tool(a.id, tool).await);
    assert_eq!(names(&*store, a.id).await.len(), 3);
    assert!(
        names(&*store, agent).await.is_empty(),
        "an unknown agent has no tools"
    );
}

pub async fn tools_of_agents_answers_each_agent(store: Arc<dyn Store>) {
    let t = tools_in_order(&*store, &[("x", "custom"), ("y", "custom")]).await;
    let (one, two) = (agent(&*store, "one").await, agent(&*store, "two").await);
    store.attach_tool(one.id, t[1]).await.unwrap();
    store.attach_tool(one.id, t[0]).await.unwrap();
    store.attach_tool(two.id, t[0]).await.unwrap();
    let unknown = AgentId::new();
    let got = store
        .tools_of_agents(&[two.id, unknown, one.id])
        .await
        .unwrap();
    let got: Vec<_> = got
        .iter()
        .map(|(a, tools)| (*a, ids(tools, |t| t.id)))
        .collect();
    assert_eq!(
        got,
        [
            (two.id, vec![t[0]]),
            (unknown, vec![]),
            (one.id, vec![t[1], t[0]])
        ]
    );
    assert!(store.tools_of_agents(&[]).await.unwrap().is_empty());
}
