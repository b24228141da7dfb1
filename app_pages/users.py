"""Users: who may sign in, with which role; add, remove, reset passwords, change roles."""

import streamlit as st

from store.users import (
    MIN_PASSWORD_LENGTH,
    ROLES,
    add_user,
    change_role,
    generate_password,
    list_users,
    remove_user,
    set_password,
)
from ui import auth
from ui.labels import readable_table

director = auth.require_page("users")
st.title("Users")
st.caption(
    "Who may sign in, and what each person sees. **Director**: every page, including users, "
    "imports and the audit log. **Clinician**: the dashboard pages, no imports. **Staff**: "
    "the Data page only, to upload the clinic's files."
)
with st.expander("Passwords and failed sign-ins"):
    st.markdown(
        "A new or reset password is shown once, right after it is set: give it to the person "
        "yourself. After five wrong passwords for a name from one computer, that computer waits "
        "30 seconds before its next try for the name, and twice as long after each further "
        "wrong one; the same person signs in from any other computer as usual, so nobody can "
        "lock another out. Resetting the password, or `python -m analytics users unlock NAME` "
        "on the server, ends the wait at once."
    )
if auth.oidc_configured():
    st.info(
        "Sign-in goes through the clinic's identity provider: roles come from the [roles] "
        "table of secrets.toml, and the accounts below are not used.",
        icon=":material/key:",
    )

# A new password is shown once, on the run after it was set, then forgotten.
SHOW_KEY = "users_new_password"
DONE_KEY = "users_done"
done = st.session_state.pop(DONE_KEY, None)
if done:
    st.success(done, icon=":material/check_circle:")
shown = st.session_state.pop(SHOW_KEY, None)
if shown:
    name, password = shown
    st.success(
        f"Password of **{name}**, shown only now: give it to them in person; they can sign in "
        "with it at once.",
        icon=":material/key:",
    )
    st.code(password, language=None)

users = list_users()
# Dates to the minute and the wait only when someone waits, so the table fits 1024 px.
locked = users["locked_until"].notna().any()
st.dataframe(
    readable_table(
        users if locked else users.drop(columns="locked_until"),
        labels={
            "created_at": "Added (UTC)",
            "failed_logins": "Failed sign-ins",
            "locked_until": "Waiting until (UTC)",
        },
    ),
    hide_index=True,
    width="stretch",
    column_config={
        "Added (UTC)": st.column_config.DatetimeColumn(format="YYYY-MM-DD HH:mm"),
        "Last sign-in (UTC)": st.column_config.DatetimeColumn(format="YYYY-MM-DD HH:mm"),
        "Failed sign-ins": st.column_config.NumberColumn(
            width="small",
            help="Wrong passwords for this name in the last 24 hours, from every computer.",
        ),
        "Waiting until (UTC)": st.column_config.DatetimeColumn(
            format="YYYY-MM-DD HH:mm:ss",
            help="The latest wait a computer trying this name must sit out before its next try.",
        ),
    },
)
names = users["username"].tolist()


def _done(message: str) -> None:
    st.session_state[DONE_KEY] = message


add, manage = st.columns(2, gap="large")
with add, st.form("add_user", clear_on_submit=True):
    st.subheader("Add a user")
    new_name = st.text_input("User name", key="users_new_name")
    new_role = st.selectbox(
        "Role", ROLES, index=1, key="users_new_role", format_func=str.capitalize
    )
    typed = st.text_input(
        f"Password (blank: a random one; at least {MIN_PASSWORD_LENGTH} characters)",
        type="password",
        key="users_new_password_input",
    )
    if st.form_submit_button("Add", type="primary", icon=":material/person_add:"):
        password = typed or generate_password()
        try:
            created = add_user(new_name, password, new_role, actor=director)
        except (ValueError, PermissionError) as error:
            st.error(f"Not added: {error}")
        else:
            if not typed:
                st.session_state[SHOW_KEY] = (created.username, password)
            _done(f"Added {created.username} ({created.role}).")
            st.rerun()

with manage:
    st.subheader("Change a user")
    who = st.selectbox("User", names, key="users_target")
    target_role = users.loc[users["username"] == who, "role"].iloc[0]
    role = st.selectbox(
        "Role",
        ROLES,
        index=ROLES.index(target_role),
        key=f"users_role_{who}",
        format_func=str.capitalize,
    )
    if st.button("Change role", disabled=role == target_role, key="users_change_role"):
        try:
            change_role(who, role, actor=director)
        except (ValueError, PermissionError) as error:
            st.error(f"Not changed: {error}")
        else:
            _done(f"{who} is now {role}.")
            st.rerun()
    if st.button("Reset the password", key="users_reset", icon=":material/lock_reset:"):
        password = generate_password()
        try:
            set_password(who, password, actor=director)
        except (ValueError, PermissionError) as error:
            st.error(f"Not reset: {error}")
        else:
            st.session_state[SHOW_KEY] = (who, password)
            st.rerun()
    sure = st.checkbox(f"Yes, remove {who}", key=f"users_remove_sure_{who}")
    if st.button(
        f"Remove {who}", disabled=not sure, key="users_remove", icon=":material/person_remove:"
    ):
        try:
            remove_user(who, actor=director)
        except (ValueError, PermissionError) as error:
            st.error(f"Not removed: {error}")
        else:
            _done(f"Removed {who}.")
            st.rerun()
