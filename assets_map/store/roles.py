"""Who is asking: viewer, editor of one organisation, admin; or the one local user.

The store checks a :class:`Role` on every read and write, so a page that forgets
to hide something still cannot be handed a private field.  Roles of signed-in
users come from the store's ``users`` table; with no authentication configured
the app runs as :data:`LOCAL_USER`, one local administrator, and says so.
"""
from __future__ import annotations

from dataclasses import dataclass

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
        return self.kind == "viewer"

    def sees_internal(self, organisation: str | None) -> bool:
        """True when this role may see internal assets and fields of ``organisation``."""
        return self.kind == "admin" or (self.kind == "editor" and organisation == self.organisation)

    can_edit = sees_internal

    def require_edit(self, organisation: str | None, action: str = "edit this asset") -> None:
        if not self.can_edit(organisation):
            who = "a public viewer" if self.kind == "viewer" else f"an editor for {self.organisation}"
            raise NotAllowed(f"{self.user} is {who} and may not {action} of {organisation}")

    def require_admin(self, action: str) -> None:
        if self.kind != "admin":
            raise NotAllowed(f"{self.user} is not an administrator and may not {action}")

    def describe(self) -> str:
        if self.local:
            return "single local user (no sign-in configured): full access to this machine's register"
        if self.kind == "editor":
            return f"{self.user}: editor for {self.organisation}"
        return f"{self.user}: {self.kind}"


#: The one user of an app with no authentication configured.
LOCAL_USER = Role("admin", "local user", local=True)
#: Anyone not signed in (or signed in without a role): public fields of public assets.
PUBLIC = Role("viewer", "public")
