"""`profile list | save | load | show | delete | rename`: profiles on the flash (store.py) and
the one in use (profiles.py)."""

import protocol

from commands import busy, code, command

_USE = (
    "Use: profile list | profile save [name] | profile load <name> | profile show <name> | "
    "profile delete <name> | profile rename <old> <new>."
)


@command(
    "profile",
    "profile list",
    "profile save [name]",
    "profile load <name>",
    "profile show <name>",
    "profile delete <name>",
    "profile rename <old> <new>",
)
def profile(con, rest):
    args = rest.split()
    sub = args[0].lower() if args else ""
    args = args[1:]
    if sub == "list" and not args:
        return protocol.ok({"active": con.profiles.name, "profiles": con.profiles.store.names()})
    if sub == "save" and len(args) <= 1:
        return _save(con, args[0] if args else con.profiles.name)
    if sub in ("load", "show", "delete") and len(args) == 1:
        name = args[0]
        if not protocol.valid_name(name):
            return protocol.err("name", protocol.NAME_RULE)
        if sub == "load":
            return _load(con, name)
        if sub == "show":
            return _show(con, name)
        return _delete(con, name)
    if sub == "rename" and len(args) == 2:
        return _rename(con, args[0], args[1])
    return protocol.err("usage", _USE)


def _read(con, name):
    """(values, source, reason, None) or (None, None, None, ERR reply)."""
    values, source, why = con.profiles.store.load(name)
    if values is not None:
        return values, source, why, None
    if source == "missing":
        return (
            None,
            None,
            None,
            protocol.err(
                "notfound",
                "There is no profile called '" + name + "'. Send 'profile list' to see them.",
            ),
        )
    return (
        None,
        None,
        None,
        protocol.err(
            "storage",
            "Profile '" + name + "' is damaged and "
            "has no good backup (" + why + "). Nothing was "
            "changed.",
        ),
    )


def _save(con, name):
    st = con.profiles.store
    if not name:
        return protocol.err(
            "usage", "No profile is in use yet: give it a name, e.g. profile save anna."
        )
    if not protocol.valid_name(name):
        return protocol.err("name", protocol.NAME_RULE)
    try:
        st.save(name, con.settings.to_dict())
    except OSError as e:
        return protocol.err(
            "storage",
            "Could not save '" + name + "': the flash refused to "
            "write (error " + code(e) + "). The settings in use are unchanged, "
            "and so is the last saved copy.",
        )
    con.profiles.saved(name)
    try:
        st.set_active(name)
    except OSError as e:
        return protocol.err(
            "storage",
            "Saved '" + name + "', but could not make it the "
            "start-up profile (error " + code(e) + ").",
        )
    return protocol.ok({"saved": name})


def _load(con, name):
    refused = busy(con)
    if refused:
        return refused
    values, source, why, error = _read(con, name)
    if error:
        return error
    con.inst.panic()
    notes = con.profiles.load(name, values, source, why)
    try:
        con.profiles.store.set_active(name)
    except OSError as e:
        notes.append("Could not make it the start-up profile (error " + code(e) + ").")
    return protocol.ok({"loaded": name, "from": source, "reason": why, "skipped": notes})


def _show(con, name):
    values, source, why, error = _read(con, name)
    if error:
        return error
    return protocol.ok({"name": name, "values": values, "from": source})


def _delete(con, name):
    st = con.profiles.store
    if not st.exists(name):
        return protocol.err("notfound", "There is no profile called '" + name + "'.")
    try:
        st.delete(name)
        if con.profiles.deleted(name):
            st.set_active(None)
    except OSError as e:
        return protocol.err(
            "storage",
            "Could not delete '"
            + name
            + "' (error "
            + code(e)
            + "). The settings in use are unchanged.",
        )
    return protocol.ok({"deleted": name})


def _rename(con, old, new):
    st = con.profiles.store
    if not protocol.valid_name(old) or not protocol.valid_name(new):
        return protocol.err("name", protocol.NAME_RULE)
    if old == new or st.exists(new):
        return protocol.err(
            "name",
            "A profile called '" + new + "' already exists; delete it "
            "first or choose another name.",
        )
    values, source, why, error = _read(con, old)
    if error:
        return error
    try:
        st.rename(old, new)
    except OSError as e:
        return protocol.err(
            "storage",
            "Could not rename '"
            + old
            + "' (error "
            + code(e)
            + "). The settings in use are unchanged.",
        )
    con.profiles.renamed(old, new)
    return protocol.ok({"renamed": old, "to": new})
