// The sign-in view: signing in (a SuperAdmin only), signing out, and the switch between the
// sign-in and admin views. A session the service ends comes back here too.
import { ApiError, NetworkError, describeError, request, sentence } from "./api.js";
import { $, $$, busy, closeDialog, toast } from "./dom.js";
import { showOrgs } from "./orgs.js";
import { forgetToken, keepToken, whenSessionEnds } from "./session.js";
import { state } from "./state.js";

function showView(name) {
  $("#boot").hidden = true;
  $("#signin-view").hidden = name !== "signin";
  $("#admin-view").hidden = name !== "admin";
  $("#session").hidden = name !== "admin";
}

export function showSignIn(message) {
  showView("signin");
  const error = $("#signin-error");
  error.textContent = message || "";
  error.hidden = !message;
  $("#signin-password").value = "";
  $(state.me ? "#signin-password" : "#signin-email").focus();
}

export function signOut(message) {
  forgetToken();
  state.loadSeq += 1; // answers still on their way are for the old session
  for (const dialog of $$("dialog")) closeDialog(dialog);
  showSignIn(message);
}

export async function showAdmin() {
  $("#session-email").textContent = state.me.email;
  $("#session-email").title = `Signed in as ${state.me.email}`; // whole, where it is cut short
  showView("admin");
  await showOrgs();
}

export function initSignIn() {
  whenSessionEnds(signOut);

  $("#sign-out").addEventListener("click", () => {
    signOut();
    toast("You are signed out.");
  });

  $("#signin-form").addEventListener("submit", (event) => {
    event.preventDefault();
    const form = event.currentTarget;
    const email = $("#signin-email").value.trim();
    const password = $("#signin-password").value;
    const error = $("#signin-error");
    if (!email || !password) {
      error.textContent = "Enter your email and password.";
      error.hidden = false;
      $(email ? "#signin-password" : "#signin-email").focus();
      return;
    }
    busy($("button[type=submit]", form), async () => {
      error.hidden = true;
      try {
        const issued = await request("POST", "/api/v1/auth/login", { body: { email, password } });
        const me = await request("GET", "/api/v1/auth/me", { token: issued.accessToken });
        if (me.role !== "SUPER_ADMIN") {
          throw new Error(`${me.email} is not a SuperAdmin; this page needs a SuperAdmin account.`);
        }
        keepToken(issued.accessToken);
        state.me = me;
        $("#signin-password").value = "";
        await showAdmin();
        // Signed in: the first control of the admin view, where the next step starts.
        $("#org-select").focus();
      } catch (failure) {
        error.textContent =
          failure instanceof ApiError && failure.code === "UNAUTHORIZED"
            ? sentence(failure.message)
            : failure instanceof ApiError || failure instanceof NetworkError
              ? describeError(failure)
              : failure.message;
        error.hidden = false;
        $("#signin-password").focus();
      }
    });
  });
}
