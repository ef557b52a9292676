//! The tool-rule solver: which tools a step may offer, which call ends or continues the turn,
//! and the `<tool_usage_rules>` section of the system prompt. One solver per request; "per
//! step" in rule names means per request, as in Letta.

use mneme_types::ToolRule;
use serde_json::{Map, Value};

/// The rules of one request, with the calls made so far.
#[derive(Debug, Clone, Default)]
pub struct Solver {
    rules: Vec<ToolRule>,
    /// Tools called in this request, in order, each recorded once (Letta's V3 loop records
    /// twice, which halves `max_count_per_step`).
    history: Vec<String>,
    /// What the last call returned, for conditional rules.
    last_output: Option<Value>,
}

/// What a step may offer the model.
#[derive(Debug, Clone, PartialEq)]
pub struct Allowed {
    /// Names the model may call; all attached tools when the rules leave none.
    pub tools: Vec<String>,
    /// The rules require a call in this step (init, child, conditional or parent rules).
    pub must_call: bool,
}

impl Solver {
    pub fn new(rules: Vec<ToolRule>) -> Solver {
        Solver {
            rules,
            ..Solver::default()
        }
    }

    /// The tools allowed now, out of `attached`.
    pub fn allowed(&self, attached: &[String]) -> Allowed {
        let last = self.history.last();
        let init: Vec<String> = self
            .rules
            .iter()
            .filter_map(|r| match r {
                ToolRule::RunFirst { tool_name, .. } => Some(tool_name.clone()),
                _ => None,
            })
            .collect();
        if last.is_none() && !init.is_empty() {
            return Allowed {
                tools: init,
                must_call: true,
            };
        }
        let mut tools: Vec<String> = attached.to_vec();
        let mut must_call = false;
        for rule in &self.rules {
            let (keep, forced) = self.rule_allows(rule, last.map(String::as_str), attached);
            must_call |= forced;
            tools.retain(|t| keep.contains(t));
        }
        if tools.is_empty() {
            // Letta offers everything rather than nothing; log it, since rules contradict.
            tracing::debug!("tool rules leave no tool; offering all attached tools");
            tools = attached.to_vec();
        }
        Allowed { tools, must_call }
    }

    /// The set one rule allows (as a list) and whether it forces a call.
    fn rule_allows(
        &self,
        rule: &ToolRule,
        last: Option<&str>,
        all: &[String],
    ) -> (Vec<String>, bool) {
        let all_but = |excluded: &dyn Fn(&String) -> bool| -> Vec<String> {
            all.iter().filter(|t| !excluded(t)).cloned().collect()
        };
        match rule {
            ToolRule::ConstrainChildTools {
                tool_name,
                children,
                ..
            } if last == Some(tool_name) => (children.clone(), true),
            ToolRule::ParentLastTool {
                tool_name,
                children,
            } if last == Some(tool_name.as_str()) => (children.clone(), true),
            ToolRule::ParentLastTool { children, .. } => {
                (all_but(&|t| children.contains(t)), false)
            }
            ToolRule::MaxCountPerStep {
                tool_name,
                max_count_limit,
            } if self.calls_of(tool_name) >= *max_count_limit as usize => {
                (all_but(&|t| t == tool_name), false)
            }
            ToolRule::Conditional {
                tool_name,
                child_output_mapping,
                default_child,
                require_output_mapping,
            } if last == Some(tool_name) => {
                let chosen = self
                    .last_output
                    .as_ref()
                    .and_then(|out| match_output(child_output_mapping, out));
                match (chosen, default_child, require_output_mapping) {
                    (Some(t), _, _) => (vec![t], true),
                    (None, Some(d), _) => (vec![d.clone()], true),
                    (None, None, true) => (Vec::new(), true),
                    (None, None, false) => (all.to_vec(), true),
                }
            }
            _ => (all.to_vec(), false),
        }
    }

    /// How many times `tool` was called in this request.
    fn calls_of(&self, tool: &str) -> usize {
        self.history.iter().filter(|t| *t == tool).count()
    }

    /// Records an executed call and what it returned.
    pub fn record(&mut self, tool: &str, output: Value) {
        self.history.push(tool.to_owned());
        self.last_output = Some(output);
    }

    pub fn is_terminal(&self, tool: &str) -> bool {
        self.any(tool, |r| matches!(r, ToolRule::ExitLoop { .. }))
    }

    /// A rule on `tool` says the turn goes on after it (continue, child, conditional or
    /// max-count rules).
    pub fn continues_after(&self, tool: &str) -> bool {
        self.any(tool, |r| {
            matches!(
                r,
                ToolRule::ContinueLoop { .. }
                    | ToolRule::ConstrainChildTools { .. }
                    | ToolRule::Conditional { .. }
                    | ToolRule::MaxCountPerStep { .. }
            )
        })
    }

    pub fn requires_approval(&self, tool: &str) -> bool {
        self.any(tool, |r| matches!(r, ToolRule::RequiresApproval { .. }))
    }

    /// `required_before_exit` tools not called yet in this request.
    pub fn uncalled_required(&self) -> Vec<String> {
        self.rules
            .iter()
            .filter_map(|r| match r {
                ToolRule::RequiredBeforeExit { tool_name } if !self.history.contains(tool_name) => {
                    Some(tool_name.clone())
                }
                _ => None,
            })
            .collect()
    }

    /// Rules other than approvals disable parallel tool calls, as in Letta.
    pub fn allows_parallel_calls(&self) -> bool {
        self.rules
            .iter()
            .all(|r| matches!(r, ToolRule::RequiresApproval { .. }))
    }

    /// Arguments the rules prefill for a call of `tool` now (they win over the model's).
    pub fn prefilled(&self, tool: &str) -> Map<String, Value> {
        let mut out = Map::new();
        let last = self.history.last();
        for rule in &self.rules {
            match rule {
                ToolRule::RunFirst {
                    tool_name,
                    args: Some(args),
                } if last.is_none() && tool_name == tool => {
                    out.extend(args.clone());
                }
                ToolRule::ConstrainChildTools {
                    tool_name,
                    child_arg_nodes: Some(nodes),
                    ..
                } if last == Some(tool_name) => {
                    for node in nodes.iter().filter(|n| n.name == tool) {
                        out.extend(node.args.clone().unwrap_or_default());
                    }
                }
                _ => {}
            }
        }
        out
    }

    /// The error a call outside the allowed set gets instead of running.
    pub fn violation(&self, tool: &str, allowed: &[String]) -> String {
        let names: Vec<String> = allowed.iter().map(|n| format!("'{n}'")).collect();
        let mut text = format!(
            "[ToolConstraintError] Cannot call {tool}, valid tools include: [{}].",
            names.join(", ")
        );
        let last = self.history.last().map(String::as_str);
        let related: Vec<String> = self
            .rules
            .iter()
            .filter(|r| r.tool_name() == tool || Some(r.tool_name()) == last)
            .filter_map(render_rule)
            .collect();
        if !related.is_empty() {
            text.push_str("\n** Hint: Possible rules that were violated:");
            for r in related {
                text.push_str(&format!("\n\t- {r}"));
            }
        }
        text
    }

    /// The `<tool_usage_rules>` section, or `None` when no rule renders text.
    pub fn render_prompt(&self) -> Option<String> {
        let order = |r: &ToolRule| match r {
            ToolRule::RunFirst { .. } => 0,
            ToolRule::ContinueLoop { .. } => 1,
            ToolRule::ConstrainChildTools { .. }
            | ToolRule::Conditional { .. }
            | ToolRule::MaxCountPerStep { .. } => 2,
            ToolRule::ParentLastTool { .. } => 3,
            ToolRule::ExitLoop { .. } => 4,
            _ => 5,
        };
        let mut rules: Vec<&ToolRule> = self.rules.iter().collect();
        rules.sort_by_key(|r| order(r));
        let rendered: Vec<String> = rules
            .into_iter()
            .filter_map(render_rule)
            .map(|r| format!("<tool_rule>\n{r}\n</tool_rule>"))
            .collect();
        if rendered.is_empty() {
            return None;
        }
        Some(format!(
            "<tool_usage_rules>\nThe following constraints govern which tools you may call and \
             when your turn ends. You may call several tools in one response where the rules \
             allow it.\n\n{}\n</tool_usage_rules>",
            rendered.join("\n")
        ))
    }

    fn any(&self, tool: &str, f: impl Fn(&ToolRule) -> bool) -> bool {
        self.rules.iter().any(|r| r.tool_name() == tool && f(r))
    }
}

/// A rule in words, for the system prompt and violation hints. Init, required-before-exit and
/// approval rules render nothing, as in Letta.
fn render_rule(rule: &ToolRule) -> Option<String> {
    Some(match rule {
        ToolRule::ConstrainChildTools {
            tool_name,
            children,
            ..
        } => {
            format!(
                "After using {tool_name}, you must use one of these tools: {}",
                children.join(", ")
            )
        }
        ToolRule::ParentLastTool {
            tool_name,
            children,
        } => {
            format!(
                "{} can only be used right after {tool_name}",
                children.join(", ")
            )
        }
        ToolRule::Conditional { tool_name, .. } => {
            format!("{tool_name} decides which tool comes next, based on its output")
        }
        ToolRule::ExitLoop { tool_name } => format!("{tool_name} ends your response when called"),
        ToolRule::ContinueLoop { tool_name } => {
            format!("{tool_name} requires you to continue your response after it returns")
        }
        ToolRule::MaxCountPerStep {
            tool_name,
            max_count_limit,
        } => {
            format!("{tool_name}: use at most {max_count_limit} times per response")
        }
        ToolRule::RunFirst { .. }
        | ToolRule::RequiredBeforeExit { .. }
        | ToolRule::RequiresApproval { .. } => return None,
    })
}

/// The tool a conditional mapping picks for `output`: booleans compare as `true`/`false`,
/// numbers numerically, anything else as text. Matched on the tool's own return value, not on
/// a re-parse of the packed return (Letta's pitfall 6).
fn match_output(mapping: &Map<String, Value>, output: &Value) -> Option<String> {
    let text = match output {
        Value::String(s) => s.trim().to_owned(),
        other => other.to_string(),
    };
    mapping.iter().find_map(|(key, tool)| {
        let hit = match (key.parse::<f64>(), text.parse::<f64>()) {
            (Ok(a), Ok(b)) => a == b,
            _ => key.eq_ignore_ascii_case(&text) && (key == &text || is_bool(key)),
        };
        hit.then(|| tool.as_str().map(str::to_owned)).flatten()
    })
}

fn is_bool(s: &str) -> bool {
    s.eq_ignore_ascii_case("true") || s.eq_ignore_ascii_case("false")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn rules(v: Value) -> Solver {
        Solver::new(serde_json::from_value(v).unwrap())
    }

    fn names(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| (*s).to_owned()).collect()
    }

    const ALL: &[&str] = &["a", "b", "c", "send_message"];

    #[test]
    fn init_then_children_then_everything() {
        let mut s = rules(json!([
            {"type": "run_first", "tool_name": "a"},
            {"type": "constrain_child_tools", "tool_name": "a", "children": ["b"]},
        ]));
        assert_eq!(
            s.allowed(&names(ALL)),
            Allowed {
                tools: names(&["a"]),
                must_call: true
            }
        );
        s.record("a", json!("ok"));
        assert_eq!(
            s.allowed(&names(ALL)),
            Allowed {
                tools: names(&["b"]),
                must_call: true
            }
        );
        s.record("b", json!("ok"));
        assert_eq!(s.allowed(&names(ALL)).tools, names(ALL));
        assert!(s.continues_after("a"));
    }

    #[test]
    fn max_count_parent_and_terminal() {
        let mut s = rules(json!([
            {"type": "max_count_per_step", "tool_name": "a", "max_count_limit": 1},
            {"type": "parent_last_tool", "tool_name": "b", "children": ["c"]},
            {"type": "exit_loop", "tool_name": "send_message"},
            {"type": "required_before_exit", "tool_name": "b"},
        ]));
        assert_eq!(
            s.allowed(&names(ALL)).tools,
            names(&["a", "b", "send_message"])
        );
        s.record("a", json!(null));
        assert_eq!(s.allowed(&names(ALL)).tools, names(&["b", "send_message"]));
        assert_eq!(s.uncalled_required(), ["b"]);
        s.record("b", json!(null));
        assert_eq!(s.allowed(&names(ALL)).tools, names(&["c"]));
        assert!(s.uncalled_required().is_empty());
        assert!(s.is_terminal("send_message"));
        assert!(!s.allows_parallel_calls());
    }

    #[test]
    fn conditional_rules_follow_the_output() {
        let mut s = rules(json!([{
            "type": "conditional", "tool_name": "a",
            "child_output_mapping": {"yes": "b", "42": "c", "true": "send_message"},
            "default_child": "send_message"
        }]));
        s.record("a", json!("yes"));
        assert_eq!(s.allowed(&names(ALL)).tools, names(&["b"]));
        s.record("a", json!(42.0));
        assert_eq!(s.allowed(&names(ALL)).tools, names(&["c"]));
        s.record("a", json!("TRUE"));
        assert_eq!(s.allowed(&names(ALL)).tools, names(&["send_message"]));
        s.record("a", json!("something else"));
        assert_eq!(s.allowed(&names(ALL)).tools, names(&["send_message"]));
    }

    #[test]
    fn violations_name_the_allowed_tools_and_the_rule() {
        let mut s =
            rules(json!([{"type": "constrain_child_tools", "tool_name": "a", "children": ["b"]}]));
        s.record("a", json!(null));
        let text = s.violation("c", &names(&["b"]));
        assert!(
            text.starts_with("[ToolConstraintError] Cannot call c, valid tools include: ['b'].")
        );
        assert!(text.contains("** Hint: Possible rules that were violated:\n\t- After using a"));
        let prompt = s.render_prompt().unwrap();
        assert!(prompt.starts_with("<tool_usage_rules>\n"));
        assert!(prompt.contains(
            "<tool_rule>\nAfter using a, you must use one of these tools: b\n</tool_rule>"
        ));
    }

    #[test]
    fn prefills_apply_to_init_and_children() {
        let mut s = rules(json!([
            {"type": "run_first", "tool_name": "a", "args": {"x": 1}},
            {"type": "constrain_child_tools", "tool_name": "a", "children": ["b"],
             "child_arg_nodes": [{"name": "b", "args": {"y": 2}}]},
        ]));
        assert_eq!(Value::Object(s.prefilled("a")), json!({"x": 1}));
        s.record("a", json!(null));
        assert_eq!(Value::Object(s.prefilled("b")), json!({"y": 2}));
        assert_eq!(Value::Object(s.prefilled("a")), json!({}));
    }
}
