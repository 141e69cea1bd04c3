"""Who is asking: viewer, editor of one organisation, admin; or the one local user.

The store checks a :class:`Role` on every read and write, so a page that forgets
to hide something still cannot be handed a private field.  Roles of signed-in
users come from the store's ``users`` table, matched on an :class:`Identity` built
only from claims the sign-in provider vouched for (:func:`identity_from_claims`).
With no authentication configured a browser on the server itself is
:data:`LOCAL_USER`, one local administrator, and every other visitor is
:data:`PUBLIC` (the app decides which; see ``assets_map.ui.identity``).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping

ROLE_KINDS = ("viewer", "editor", "admin")


class NotAllowed(PermissionError):
    """The role may not do this; the message says what and why in one line."""


@dataclass(frozen=True)
class Role:
    """A user and what they may do.

    Parameters
    ----------
    kind : {"viewer", "editor", "admin"}
        viewer sees the public fields of public assets; an editor also sees and edits
        everything of one organisation; an admin sees and edits everything.
    user : str
        Who (an e-mail address or OIDC subject); written to the audit trail.
    organisation : str, optional
        The organisation an editor works for (required for editors).
    local : bool
        True for the single local user of an app with no authentication configured.
    """

    kind: str
    user: str
    organisation: str | None = None
    local: bool = False

    def __post_init__(self):
        problems = []
        if self.kind not in ROLE_KINDS:
            problems.append(f"role must be one of {', '.join(ROLE_KINDS)} (got {self.kind!r})")
        if self.kind == "editor" and not self.organisation:
            problems.append("an editor must belong to an organisation")
        if not self.user:
            problems.append("a role needs a user name")
        if problems:
            raise ValueError("; ".join(problems))

    @property
    def is_public(self) -> bool:
        """True for a viewer: the public view, without internal assets or fields."""
        return self.kind == "viewer"

    def sees_internal(self, organisation: str | None) -> bool:
        """True when this role may see internal assets and fields of ``organisation``."""
        return self.kind == "admin" or (self.kind == "editor" and organisation == self.organisation)

    can_edit = sees_internal

    def require_edit(self, organisation: str | None, action: str = "edit this asset") -> None:
        """Refuse unless this role may edit ``organisation``'s assets.

        Raises
        ------
        NotAllowed
            Naming the user, their role and the ``action`` refused.
        """
        if not self.can_edit(organisation):
            who = "a public viewer" if self.kind == "viewer" else f"an editor for {self.organisation}"
            raise NotAllowed(f"{self.user} is {who} and may not {action} of {organisation}")

    def require_admin(self, action: str) -> None:
        """Refuse unless this role is an administrator.

        Raises
        ------
        NotAllowed
            Naming the user and the ``action`` refused.
        """
        if self.kind != "admin":
            raise NotAllowed(f"{self.user} is not an administrator and may not {action}")

    def describe(self) -> str:
        """Who this is and what they may do, in one line for the app and the CLI."""
        if self.local:
            return "single local user (no sign-in configured): full access to this machine's register"
        if self.kind == "editor":
            return f"{self.user}: editor for {self.organisation}"
        return f"{self.user}: {self.kind}"


#: The one user of an app with no authentication configured.
LOCAL_USER = Role("admin", "local user", local=True)
#: Anyone not signed in (or signed in without a role): public fields of public assets.
PUBLIC = Role("viewer", "public")


@dataclass(frozen=True)
class Identity:
    """A signed-in user as their sign-in provider vouches for them.

    Parameters
    ----------
    issuer : str
        The provider (the ID token's ``iss``).
    subject : str
        The provider's id of the user (``sub``); unique only together with ``issuer``.
    email : str, optional
        The user's e-mail address, set only when the provider marked it verified.
    """

    issuer: str
    subject: str
    email: str | None = None

    @property
    def name(self) -> str:
        """Who, for the audit trail and the screen."""
        return self.email or f"{self.subject} at {self.issuer}"


def identity_from_claims(claims: Mapping[str, Any]) -> tuple[Identity | None, str | None]:
    """The :class:`Identity` in a signed-in user's ID-token claims, and a one-line note on what was not used.

    Only claims the provider vouched for count: ``iss`` with ``sub`` (both required),
    and ``email`` only when ``email_verified`` is the boolean ``true`` (not a string).

    Returns
    -------
    identity : Identity or None
        None when the claims name no issuer and subject (no role can be given).
    note : str or None
        Why a claim was not used, for the visitor.
    """
    issuer, subject, email = (claims.get(k) for k in ("iss", "sub", "email"))
    if not (isinstance(issuer, str) and issuer.strip() and isinstance(subject, str) and subject.strip()):
        return None, "Your sign-in did not say who issued it and for whom (iss and sub), so it gives no role here."
    note = None
    if not (isinstance(email, str) and email.strip()):
        email = None
    elif claims.get("email_verified") is not True:
        note = (f"Your sign-in provider has not verified the e-mail address {email.strip()}, "
                f"so it gives no role here.")
        email = None
    return Identity(issuer.strip(), subject, email.strip().lower() if email else None), note


def email_address(text: str) -> str:
    """``text`` as an e-mail address for the users table (trimmed, lower case); ValueError when it is not one."""
    address = (text or "").strip().lower()
    local, at, domain = address.rpartition("@")
    if not at or not local or not domain or any(c.isspace() for c in address):
        raise ValueError(f"{text!r} is not an e-mail address (a role for an OIDC subject needs its issuer too)")
    return address
