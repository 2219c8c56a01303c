//! Where one post lands: its slot on each of its channels and its diagnostics, from the same plan
//! as `preview` and `validate` (`crieur new` prints it right after adding a post).

use crieur_config::Config;
use crieur_core::{Diagnostic, Post};
use jiff::{SignedDuration, Timestamp, Zoned};

use crate::Error;
use crate::plan::{Known, assess};

/// One post's place in the plan.
#[derive(Debug, Clone)]
pub struct Landing {
    /// Each of the post's channels, in the post's order, with the slot it takes there (`None`:
    /// not within the window).
    pub slots: Vec<(String, Option<Zoned>)>,
    /// Every diagnostic about the post (text and calendar rules), placed, as `validate` prints
    /// them.
    pub diagnostics: Vec<Diagnostic>,
}

impl Landing {
    /// What `crieur new` prints: `  CHANNEL: Tue 2026-12-01 09:00 CET` per channel (or that no
    /// slot is free within `weeks`), then each diagnostic as `validate` prints it.
    pub fn lines(&self, weeks: u16) -> Vec<String> {
        let slots = self.slots.iter().map(|(channel, at)| match at {
            Some(at) => format!("  {channel}: {}", at.strftime("%a %Y-%m-%d %H:%M %Z")),
            None => format!("  {channel}: no slot in the next {weeks} weeks"),
        });
        slots.chain(self.diagnostics.iter().map(ToString::to_string)).collect()
    }

    /// Whether a diagnostic is an error.
    pub fn has_errors(&self) -> bool {
        self.diagnostics.iter().any(|d| d.severity == crieur_core::Severity::Error)
    }
}

/// Lays the queue over [`now`, `now + weeks`) and says where the post `id` lands.
///
/// # Errors
/// When a cadence cannot be laid; [`Error::UnknownPost`] when no post has this id.
pub fn landing(
    config: &Config,
    posts: &[Post],
    known: &Known,
    id: &str,
    now: Timestamp,
    weeks: u16,
) -> Result<Landing, Error> {
    let Some(index) = posts.iter().position(|p| p.id == id) else {
        return Err(Error::UnknownPost(id.to_owned()));
    };
    let to = now + SignedDuration::from_hours(24 * 7 * i64::from(weeks));
    let assessed = assess(config, posts, known, now, to, now, true)?;
    let slots = posts[index]
        .channels
        .iter()
        .map(|c| {
            let at = assessed
                .calendar
                .entries
                .iter()
                .find(|e| e.post == Some(index) && &e.channel == c)
                .map(|e| e.at.clone());
            (c.clone(), at)
        })
        .collect();
    let diagnostics = assessed
        .diagnostics(config)
        .into_iter()
        .filter(|d| d.post.as_deref() == Some(id))
        .collect();
    Ok(Landing { slots, diagnostics })
}

/// One post rendered for each of its channels with its text rules run (`crieur check --post`):
/// for each channel, in the post's order, what `crieur check` gives for a text.
///
/// # Errors
/// [`Error::UnknownPost`] when no post has this id.
pub fn check_post(
    config: &Config,
    posts: &[Post],
    id: &str,
) -> Result<Vec<(String, crieur_policy::CheckResult)>, Error> {
    let post =
        posts.iter().find(|p| p.id == id).ok_or_else(|| Error::UnknownPost(id.to_owned()))?;
    let judge = crate::plan::Judge::new(config);
    let out = post
        .channels
        .iter()
        .filter_map(|name| config.channels.get(name))
        .map(|c| {
            let rendered = judge.render(post, &c.channel);
            let diagnostics = crate::plan::shown(crieur_policy::check_post(
                post,
                &c.channel,
                &rendered,
                &judge.effective(&c.channel),
            ));
            let valid = !diagnostics.iter().any(|d| d.severity == crieur_core::Severity::Error);
            let result = crieur_policy::CheckResult {
                text: rendered.text,
                length: rendered.length,
                valid,
                diagnostics,
            };
            (c.channel.name.clone(), result)
        })
        .collect();
    Ok(out)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::testing::{NOW, Project, ts};

    #[test]
    fn a_post_lands_on_the_next_free_slot_of_each_channel_with_its_diagnostics() {
        let posts = "[[post]]\nid = \"first\"\nchannels = [\"blog\"]\ntext = \"One\"\n\n\
                     [[post]]\nid = \"second\"\nchannels = [\"blog\"]\ntext = \"   \"\n";
        let project = Project::new(posts);
        let config = project.config();
        let posts = crieur_config::load_posts(&config).unwrap();
        let first = landing(&config, &posts, &Known::default(), "first", ts(NOW), 4).unwrap();
        let second = landing(&config, &posts, &Known::default(), "second", ts(NOW), 4).unwrap();
        let (a, b) = (first.slots[0].1.clone().unwrap(), second.slots[0].1.clone().unwrap());
        assert!(a < b, "queue order: {a} before {b}");
        assert!(first.diagnostics.is_empty(), "{:?}", first.diagnostics);
        assert!(second.diagnostics.iter().any(|d| d.rule == "empty"), "{:?}", second.diagnostics);
        assert!(matches!(
            landing(&config, &posts, &Known::default(), "third", ts(NOW), 4),
            Err(Error::UnknownPost(_))
        ));
    }

    #[test]
    fn checking_one_post_renders_it_for_each_channel_with_its_text_rules() {
        let posts = "[[post]]\nid = \"a\"\nchannels = [\"blog\"]\ntext = \"   \"\n";
        let project = Project::new(posts);
        let config = project.config();
        let posts = crieur_config::load_posts(&config).unwrap();
        let checked = check_post(&config, &posts, "a").unwrap();
        assert_eq!(checked.len(), 1);
        assert_eq!(checked[0].0, "blog");
        assert!(!checked[0].1.valid);
        assert!(checked[0].1.diagnostics.iter().any(|d| d.rule == "empty"));
        assert!(matches!(check_post(&config, &posts, "b"), Err(Error::UnknownPost(_))));
    }
}
