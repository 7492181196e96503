//! The `slack` and `discord` formats (`routing.md`): a message naming the event and showing
//! its payload pretty-printed in a code block, cut to what each service accepts.

/// Characters of Slack's payload part, at most (after escaping).
pub const SLACK_PAYLOAD_MAX: usize = 2900;
/// Characters of a Discord message, at most.
pub const DISCORD_CONTENT_MAX: usize = 2000;

fn pretty(payload: &[u8]) -> String {
    match serde_json::from_slice::<serde_json::Value>(payload) {
        Ok(v) => serde_json::to_string_pretty(&v).unwrap_or_default(),
        Err(_) => String::from_utf8_lossy(payload).into_owned(),
    }
}

/// Slack's three escapes (`&`, `<`, `>`), for one character.
fn slack_escape(c: char, out: &mut String) {
    match c {
        '&' => out.push_str("&amp;"),
        '<' => out.push_str("&lt;"),
        '>' => out.push_str("&gt;"),
        c => out.push(c),
    }
}

/// `text` escaped, cut so that the result has at most `max` characters (an ellipsis ends
/// a cut text; an escape is never split).
fn escaped_within(text: &str, max: usize) -> String {
    let mut out = String::new();
    let mut count = 0;
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        let mut one = String::new();
        slack_escape(c, &mut one);
        let n = one.chars().count();
        // Room for the ellipsis if anything is left after this character.
        let reserve = usize::from(chars.peek().is_some());
        if count + n + reserve > max {
            out.push('…');
            return out;
        }
        out.push_str(&one);
        count += n;
    }
    out
}

/// `text` cut to at most `max` characters, the last one an ellipsis when cut.
fn within(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_string();
    }
    let mut out: String = text.chars().take(max.saturating_sub(1)).collect();
    out.push('…');
    out
}

pub fn slack(event_type: &str, event_id: &str, payload: &[u8]) -> Vec<u8> {
    let mut head = String::new();
    for c in format!("*{event_type}* `{event_id}`").chars() {
        slack_escape(c, &mut head);
    }
    let text = format!(
        "{head}\n```\n{}\n```",
        escaped_within(&pretty(payload), SLACK_PAYLOAD_MAX)
    );
    serde_json::json!({ "text": text }).to_string().into_bytes()
}

pub fn discord(event_type: &str, event_id: &str, payload: &[u8]) -> Vec<u8> {
    let head = within(&format!("**{event_type}** `{event_id}`"), 200);
    let frame = format!("{head}\n```json\n\n```");
    let room = DISCORD_CONTENT_MAX.saturating_sub(frame.chars().count());
    let content = format!("{head}\n```json\n{}\n```", within(&pretty(payload), room));
    serde_json::json!({ "content": content })
        .to_string()
        .into_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn field(body: &[u8], name: &str) -> String {
        let v: serde_json::Value = serde_json::from_slice(body).unwrap();
        v[name].as_str().unwrap().to_string()
    }

    #[test]
    fn slack_escapes_and_shows_the_payload() {
        let text = field(
            &slack("order.paid", "evt_1", br#"{"note": "a < b & c > d"}"#),
            "text",
        );
        assert!(text.starts_with("*order.paid* `evt_1`\n```\n"), "{text}");
        assert!(
            text.contains(r#""note": "a &lt; b &amp; c &gt; d""#),
            "{text}"
        );
        assert!(!text.contains(" < "));
    }

    #[test]
    fn slack_cuts_the_payload_part() {
        let long = serde_json::json!({ "s": "<".repeat(5000) }).to_string();
        let text = field(&slack("t", "evt_1", long.as_bytes()), "text");
        let part = text
            .split_once("```\n")
            .unwrap()
            .1
            .rsplit_once("\n```")
            .unwrap()
            .0;
        assert!(part.chars().count() <= SLACK_PAYLOAD_MAX, "{}", part.len());
        assert!(part.ends_with('…'));
        assert!(!part.contains("&l…"), "an escape is never split");
    }

    #[test]
    fn discord_fits_its_limit_unescaped() {
        let content = field(
            &discord("order.paid", "evt_1", br#"{"a": "<b>"}"#),
            "content",
        );
        assert!(content.contains(r#""a": "<b>""#), "{content}");
        let long = serde_json::json!({ "s": "é".repeat(5000) }).to_string();
        let content = field(&discord("t", "evt_1", long.as_bytes()), "content");
        assert_eq!(content.chars().count(), DISCORD_CONTENT_MAX);
        assert!(content.ends_with("…\n```"));
    }
}
