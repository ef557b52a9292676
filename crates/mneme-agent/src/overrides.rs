//! What one request changes in the system prompt it sends, and only there: `override_system`
//! (a prompt sent in place of the stored one) and `client_skills` (an `<available_skills>`
//! section after it). Neither is ever stored: the stored system message stays as it was, so
//! that turns with and without them share one stored prompt (and the provider's prompt cache).

use std::collections::BTreeMap;

use mneme_types::{Block, ClientSkill};

/// The request's changes to its system prompt.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SystemOverrides {
    /// Sent verbatim in place of the stored system prompt; no skills are added to it.
    pub system: Option<String>,
    /// Skills the client has, listed after the stored system prompt.
    pub client_skills: Vec<ClientSkill>,
}

impl SystemOverrides {
    /// The system prompt a model call of this request sends, for the stored prompt `stored`
    /// and the agent's `blocks` (skills kept in memory are listed too, as Letta lists them).
    pub fn request_text(&self, stored: &str, blocks: &[Block]) -> String {
        if let Some(system) = &self.system {
            return system.clone();
        }
        let skills = available_skills(blocks, &self.client_skills);
        if skills.is_empty() {
            return stored.to_owned();
        }
        format!("{}\n\n{skills}", stored.trim_end_matches('\n'))
    }
}

/// The `<available_skills>` section: the agent's skills (blocks labelled `skills/<name>` or
/// `skills/<name>/SKILL`) then the client's, one entry per name (the first wins), grouped by
/// the directory holding each skill's directory and drawn as a tree with each skill's
/// description. Empty when there are no skills. Letta's format, line for line.
pub fn available_skills(blocks: &[Block], client: &[ClientSkill]) -> String {
    let mut seen: Vec<&str> = Vec::new();
    let mut skills: Vec<(String, String, String)> = Vec::new();
    for block in blocks {
        let parts: Vec<&str> = block
            .label
            .as_deref()
            .unwrap_or_default()
            .split('/')
            .collect();
        let top_level = parts.len() == 2 || (parts.len() == 3 && parts[2] == "SKILL");
        if parts[0] != "skills" || !top_level || seen.contains(&parts[1]) {
            continue;
        }
        seen.push(parts[1]);
        let description = first_line(block.description.as_deref());
        skills.push((parts[1].to_owned(), description, memory_location(parts[1])));
    }
    for skill in client {
        if seen.contains(&skill.name.as_str()) {
            continue;
        }
        seen.push(&skill.name);
        let location = match skill.location.as_deref().map(str::trim) {
            Some(location) if !location.is_empty() => location.to_owned(),
            _ => memory_location(&skill.name),
        };
        let description = first_line(skill.description.as_deref());
        skills.push((skill.name.clone(), description, location));
    }
    if skills.is_empty() {
        return String::new();
    }
    let mut roots: BTreeMap<String, Dir> = BTreeMap::new();
    for (name, description, location) in &skills {
        let (root, relative) = skill_root(name, location);
        roots.entry(root).or_default().add(&relative, description);
    }
    let mut out = String::from("<available_skills>\n");
    for (i, (root, tree)) in roots.iter().enumerate() {
        out.push_str(root);
        out.push('\n');
        tree.render("", &mut out);
        if i + 1 < roots.len() {
            out.push('\n');
        }
    }
    out.push_str("</available_skills>");
    out
}

/// Where a skill without a location of its own lives: in the agent's memory directory.
fn memory_location(name: &str) -> String {
    format!("${{MEMORY_DIR}}/skills/{name}/SKILL.md")
}

fn first_line(text: Option<&str>) -> String {
    let text = text.unwrap_or_default().trim();
    text.split('\n')
        .next()
        .unwrap_or_default()
        .trim()
        .to_owned()
}

/// The directory a skill is listed under and its path below it: a `<dir>/<skill>/SKILL.md`
/// goes under the directory holding the skill's own directory; any other file under its own
/// directory.
fn skill_root(name: &str, location: &str) -> (String, String) {
    let path = location.trim();
    if path.ends_with("/SKILL.md") {
        let skill_dir = dirname(path);
        let leaf = name.rsplit('/').next().unwrap_or(name);
        if basename(skill_dir) == leaf {
            let relative = format!("{}/SKILL.md", basename(skill_dir));
            return (dirname(skill_dir).to_owned(), relative);
        }
    }
    (dirname(path).to_owned(), basename(path).to_owned())
}

/// Python's `os.path.dirname`: everything before the last `/`, without trailing slashes
/// unless it is only slashes.
fn dirname(path: &str) -> &str {
    match path.rfind('/') {
        Some(i) => {
            let head = &path[..=i];
            match head.trim_end_matches('/') {
                "" => head,
                trimmed => trimmed,
            }
        }
        None => "",
    }
}

/// Python's `os.path.basename`: everything after the last `/`.
fn basename(path: &str) -> &str {
    path.rsplit('/').next().unwrap_or(path)
}

/// One directory of the drawn tree: its directories and its files with their descriptions,
/// each in name order.
#[derive(Default)]
struct Dir {
    dirs: BTreeMap<String, Dir>,
    files: BTreeMap<String, String>,
}

impl Dir {
    fn add(&mut self, relative: &str, description: &str) {
        let parts: Vec<&str> = relative.split('/').filter(|p| !p.is_empty()).collect();
        let Some((file, dirs)) = parts.split_last() else {
            return;
        };
        let mut node = self;
        for dir in dirs {
            node = node.dirs.entry((*dir).to_owned()).or_default();
        }
        node.files
            .insert((*file).to_owned(), description.trim().to_owned());
    }

    /// Directories first, then files; `└── ` marks the last entry of a directory.
    fn render(&self, prefix: &str, out: &mut String) {
        let count = self.dirs.len() + self.files.len();
        let connector = |i: usize| {
            if i + 1 == count {
                "└── "
            } else {
                "├── "
            }
        };
        for (i, (name, dir)) in self.dirs.iter().enumerate() {
            out.push_str(&format!("{prefix}{}{name}/\n", connector(i)));
            let extension = if i + 1 == count { "    " } else { "│   " };
            dir.render(&format!("{prefix}{extension}"), out);
        }
        for (j, (name, description)) in self.files.iter().enumerate() {
            let i = self.dirs.len() + j;
            let suffix = match description.is_empty() {
                true => String::new(),
                false => format!(" ({description})"),
            };
            out.push_str(&format!("{prefix}{}{name}{suffix}\n", connector(i)));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn skill(name: &str, description: Option<&str>, location: Option<&str>) -> ClientSkill {
        ClientSkill {
            name: name.into(),
            description: description.map(str::to_owned),
            location: location.map(str::to_owned),
        }
    }

    fn block(label: &str, description: Option<&str>) -> Block {
        let mut block = mneme_store::conformance::block(label, "body");
        block.description = description.map(str::to_owned);
        block
    }

    #[test]
    fn client_skills_are_drawn_as_trees_under_their_roots() {
        let skills = [
            skill(
                "pdf",
                Some("Read PDFs.\nMore text."),
                Some("/skills/pdf/SKILL.md"),
            ),
            skill(
                "docx",
                Some("  Edit Word files. "),
                Some("/skills/docx/SKILL.md"),
            ),
            skill("notes", None, Some("/home/u/notes.md")),
        ];
        assert_eq!(
            available_skills(&[], &skills),
            "<available_skills>\n\
             /home/u\n\
             └── notes.md\n\
             \n\
             /skills\n\
             ├── docx/\n\
             │   └── SKILL.md (Edit Word files.)\n\
             └── pdf/\n    └── SKILL.md (Read PDFs.)\n\
             </available_skills>"
        );
    }

    #[test]
    fn memory_skills_come_first_and_a_name_is_listed_once() {
        let blocks = [
            block("human", None),
            block("skills/search", Some("Search the web.")),
            block("skills/search/notes", Some("nested files are not skills")),
            block("skills/plan/SKILL", Some("Plan.")),
        ];
        let client = [
            skill("search", Some("ignored: the agent has it"), None),
            skill("draw", None, None),
        ];
        assert_eq!(
            available_skills(&blocks, &client),
            "<available_skills>\n\
             ${MEMORY_DIR}/skills\n\
             ├── draw/\n\
             │   └── SKILL.md\n\
             ├── plan/\n\
             │   └── SKILL.md (Plan.)\n\
             └── search/\n    └── SKILL.md (Search the web.)\n\
             </available_skills>"
        );
    }

    #[test]
    fn no_skills_no_section() {
        assert_eq!(available_skills(&[block("human", None)], &[]), "");
        let none = SystemOverrides::default();
        assert_eq!(none.request_text("Stored.\n", &[]), "Stored.\n");
    }

    #[test]
    fn skills_follow_the_stored_prompt_and_an_override_replaces_both() {
        let with_skills = SystemOverrides {
            system: None,
            client_skills: vec![skill("pdf", None, Some("/s/pdf/SKILL.md"))],
        };
        assert_eq!(
            with_skills.request_text("Stored.\n\n", &[]),
            "Stored.\n\n<available_skills>\n/s\n└── pdf/\n    └── SKILL.md\n</available_skills>"
        );
        let overridden = SystemOverrides {
            system: Some("Only this.".into()),
            ..with_skills
        };
        assert_eq!(overridden.request_text("Stored.", &[]), "Only this.");
    }

    #[test]
    fn a_skill_file_not_in_its_own_directory_is_listed_by_file_name() {
        assert_eq!(
            skill_root("pdf", "/tools/other/SKILL.md"),
            ("/tools/other".into(), "SKILL.md".into())
        );
        assert_eq!(
            skill_root("pdf", "/tools/pdf/SKILL.md"),
            ("/tools".into(), "pdf/SKILL.md".into())
        );
        assert_eq!(skill_root("x", "SKILL.md"), ("".into(), "SKILL.md".into()));
        assert_eq!(dirname("/a"), "/");
        assert_eq!(dirname("a//b"), "a");
    }
}
