// A single-page app without a framework: two views chosen by the path, data from the JSON API.
"use strict";

function el(tag, text) {
  const e = document.createElement(tag);
  if (text !== undefined) e.textContent = text;
  return e;
}

async function getJson(url) {
  const r = await fetch(url);
  if (!r.ok) throw new Error(url + ": " + r.status);
  return r.json();
}

async function dashboard(app) {
  const info = await getJson("/api/v1/system/info");
  app.replaceChildren(el("h1", "Dashboard"), el("p", "Version: " + info.version), el("p", "Cores: " + info.cores));
  const temp = el("p", "Temperature: ...");
  app.append(temp);
  const refresh = async () => {
    const t = await getJson("/api/v1/temp/raw");
    temp.textContent = "Temperature: " + t.raw;
  };
  await refresh();
  setInterval(refresh, 1000);
}

function light(app) {
  const form = el("form");
  const inputs = ["red", "green", "blue"].map((name) => {
    const input = el("input");
    input.type = "range";
    input.min = 0;
    input.max = 255;
    input.name = name;
    const label = el("label", name + " ");
    label.append(input);
    form.append(label);
    return input;
  });
  const status = el("p");
  const button = el("button", "Set");
  form.append(button);
  form.onsubmit = async (event) => {
    event.preventDefault();
    const body = {};
    inputs.forEach((i) => { body[i.name] = Number(i.value); });
    const r = await fetch("/api/v1/light/brightness", {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify(body),
    });
    status.textContent = r.ok ? "Set." : "Error: " + (await r.text());
  };
  app.replaceChildren(el("h1", "Light"), form, status);
}

const app = document.getElementById("app");
(location.pathname === "/light" ? Promise.resolve(light(app)) : dashboard(app)).catch((e) => {
  app.textContent = "Error: " + e.message;
});
