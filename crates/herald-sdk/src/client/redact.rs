//! Redaction of personal data (e-mail addresses, phone numbers) in logged payloads.

use std::sync::OnceLock;

use regex::Regex;

/// `text` with e-mail addresses replaced by `[email]` and phone numbers by `[phone]`.
///
/// ```
/// use herald_sdk::client::redact;
/// assert_eq!(redact(r#"{"to":"ann@example.com","tel":"+44 20 7946 0958","n":42}"#),
///            r#"{"to":"[email]","tel":"[phone]","n":42}"#);
/// ```
pub fn redact(text: &str) -> String {
    static EMAIL: OnceLock<Regex> = OnceLock::new();
    static PHONE: OnceLock<Regex> = OnceLock::new();
    let email = EMAIL.get_or_init(|| {
        Regex::new(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}")
            .expect("valid regex")
    });
    // A run of at least 7 digits, optionally led by + and broken by spaces, dots, dashes or
    // parentheses: phone numbers in the usual written forms.
    let phone =
        PHONE.get_or_init(|| Regex::new(r"\+?\(?\d(?:[\s().-]*\d){6,}").expect("valid regex"));
    let text = email.replace_all(text, "[email]");
    phone.replace_all(&text, "[phone]").into_owned()
}

#[cfg(test)]
mod tests {
    use super::redact;

    #[test]
    fn redacts_emails_and_phones_but_not_small_numbers() {
        assert_eq!(
            redact("mail a.b+c@mail.example.org now"),
            "mail [email] now"
        );
        assert_eq!(
            redact("call (555) 123-4567 or 0044.20.7946.0958"),
            "call [phone] or [phone]"
        );
        assert_eq!(
            redact(r#"{"amount": 1250, "id": 42}"#),
            r#"{"amount": 1250, "id": 42}"#
        );
    }
}
