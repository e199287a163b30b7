// The account page: lists, creates and revokes the user's API tokens and
// signs out, through the JSON endpoints with the session's CSRF token.
"use strict";

(function () {
	const base = document.body.dataset.endpoints;
	const signin = document.body.dataset.signin;
	const $ = (id) => document.getElementById(id);

	function csrfToken() {
		for (const c of document.cookie.split(";")) {
			const [name, ...value] = c.trim().split("=");
			if (name === "csrftoken") {
				return decodeURIComponent(value.join("="));
			}
		}
		return "";
	}

	async function api(method, path, body) {
		const headers = { "Accept": "application/json" };
		if (method !== "GET") {
			headers["X-CSRFToken"] = csrfToken();
		}
		if (body !== undefined) {
			headers["Content-Type"] = "application/json";
		}
		const resp = await fetch(base + path, {
			method, headers, credentials: "same-origin",
			body: body === undefined ? undefined : JSON.stringify(body),
		});
		if (resp.status === 401) {
			location.assign(signin + "?next=" + encodeURIComponent(location.pathname));
			throw new Error("signed out");
		}
		const data = resp.status === 204 ? null : await resp.json().catch(() => null);
		if (!resp.ok) {
			throw new Error((data && data.detail) || "The request failed (" + resp.status + ").");
		}
		return data;
	}

	function show(message) {
		const el = $("message");
		el.textContent = message;
		el.hidden = !message;
	}

	function when(t) {
		return t ? new Date(t).toLocaleString() : "never";
	}

	function cell(row, text) {
		const td = document.createElement("td");
		td.textContent = text;
		row.appendChild(td);
		return td;
	}

	async function load() {
		const data = await api("GET", "tokens");
		const body = $("tokens").tBodies[0];
		body.replaceChildren();
		for (const t of data.results) {
			const row = document.createElement("tr");
			row.dataset.id = t.id;
			cell(row, t.description || "—");
			cell(row, "").appendChild(document.createElement("code")).textContent = t.display;
			cell(row, when(t.created));
			cell(row, t.expires ? when(t.expires) : "never");
			cell(row, t.last_used ? when(t.last_used) : "not yet");
			cell(row, t.write_enabled ? "no" : "yes");
			cell(row, (t.allowed_ips || []).join(", ") || "any");
			const revoke = document.createElement("button");
			revoke.type = "button";
			revoke.className = "secondary";
			revoke.textContent = "Revoke";
			revoke.setAttribute("aria-label", "Revoke " + (t.description || t.display));
			revoke.addEventListener("click", () => run(async () => {
				await api("DELETE", "tokens/" + encodeURIComponent(t.id));
				await load();
			}));
			cell(row, "").appendChild(revoke);
			body.appendChild(row);
		}
		$("no-tokens").hidden = data.results.length > 0;
	}

	async function run(action) {
		show("");
		try {
			await action();
		} catch (err) {
			show(err.message);
		}
	}

	$("create").addEventListener("submit", (ev) => {
		ev.preventDefault();
		run(async () => {
			const form = ev.target;
			const req = {
				description: form.description.value,
				write_enabled: !form.read_only.checked,
			};
			if (form.expires.value) {
				req.expires = new Date(form.expires.value + "T23:59:59").toISOString();
			}
			const nets = form.allowed_ips.value.split(",").map((s) => s.trim()).filter(Boolean);
			if (nets.length) {
				req.allowed_ips = nets;
			}
			const tok = await api("POST", "tokens", req);
			form.reset();
			$("key").value = tok.key;
			$("copied").textContent = "";
			$("new-key").hidden = false;
			$("key").focus();
			$("key").select();
			await load();
		});
	});

	$("copy").addEventListener("click", async () => {
		const key = $("key");
		try {
			await navigator.clipboard.writeText(key.value);
		} catch (err) {
			key.select();
			document.execCommand("copy");
		}
		$("copied").textContent = "Copied.";
	});

	$("signout").addEventListener("click", () => run(async () => {
		await api("DELETE", "session");
		location.assign(signin);
	}));

	run(load);
})();
