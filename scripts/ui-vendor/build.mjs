// build.mjs copies the files the pages need out of an npm install
// (argv[2], a node_modules directory) into web/assets/vendor (argv[3]) and
// writes MANIFEST.json. Called by scripts/ui-vendor.sh.
import { createHash } from "node:crypto";
import { copyFileSync, existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";

const [nm, out] = process.argv.slice(2);
const require = createRequire(join(nm, "noop.js"));
const manifest = [];

function pkg(name) {
  return JSON.parse(readFileSync(join(nm, name, "package.json"), "utf8"));
}

function sha256(file) {
  return createHash("sha256").update(readFileSync(file)).digest("hex");
}

// vendor copies files (paths inside the package, or [from, to] pairs)
// into <out>/<dir>/ and records them.
function vendor(name, dir, files, extra = {}) {
  const p = pkg(name);
  const dest = join(out, dir);
  mkdirSync(dest, { recursive: true });
  const entry = { name, version: p.version, license: p.license, homepage: p.homepage || `https://www.npmjs.com/package/${name}`, dir, files: [], ...extra };
  for (const f of files) {
    const [from, to] = Array.isArray(f) ? f : [join(nm, name, f), f.split("/").pop()];
    mkdirSync(dirname(join(dest, to)), { recursive: true });
    if (typeof from === "string") copyFileSync(from, join(dest, to));
    else writeFileSync(join(dest, to), from.data);
    entry.files.push({ path: `${dir}/${to}`, sha256: sha256(join(dest, to)) });
  }
  manifest.push(entry);
}

// lic is the package's licence file, or nothing when the package ships
// none (its manifest entry then says so).

const lic = name => {
  for (const f of ["LICENSE", "LICENSE.md", "LICENSE.txt", "LICENCE"]) {
    if (existsSync(join(nm, name, f))) return [join(nm, name, f), "LICENSE"];
  }
  return null;
};
const files = list => list.filter(Boolean);

const leaflet = pkg("leaflet").version;
vendor("leaflet", `leaflet-${leaflet}`, ["dist/leaflet.js", "dist/leaflet.css", lic("leaflet")]);

const uplot = pkg("uplot").version;
vendor("uplot", `uplot-${uplot}`, ["dist/uPlot.iife.min.js", "dist/uPlot.min.css", lic("uplot")]);

const pmtiles = pkg("pmtiles").version;
vendor("pmtiles", `pmtiles-${pmtiles}`, files(["dist/pmtiles.js", lic("pmtiles")]), lic("pmtiles") ? {} : { license_note: "the npm package ships no licence file; BSD-3-Clause per its package.json, source https://github.com/protomaps/PMTiles" });

// The font: Vietnamese and Latin subsets (together they hold every
// Vietnamese letter), in the weights the pages use, with a stylesheet of
// our own whose unicode-range lets the browser fetch only what it shows.
const font = "@fontsource/be-vietnam-pro";
const fontVer = pkg(font).version;
const ranges = JSON.parse(readFileSync(join(nm, font, "unicode.json"), "utf8"));
const weights = [400, 600, 800];
const fontFiles = [];
let css = "/* Be Vietnam Pro (OFL-1.1), vendored by scripts/ui-vendor.sh */\n";
for (const subset of ["vietnamese", "latin"]) {
  for (const w of weights) {
    const file = `be-vietnam-pro-${subset}-${w}-normal.woff2`;
    fontFiles.push(`files/${file}`);
    css += `@font-face{font-family:"Be Vietnam Pro";font-style:normal;font-display:swap;font-weight:${w};src:url(./${file}) format("woff2");unicode-range:${ranges[subset]}}\n`;
  }
}
vendor(font, `be-vietnam-pro-${fontVer}`, [...fontFiles, lic(font), [{ data: css }, "fonts.css"]], { subsets: ["vietnamese", "latin"], weights });

// The shipped map: Vietnam's outline (and the Spratly Islands) from Natural
// Earth 1:10m via world-atlas, turned into GeoJSON with topojson-client here,
// at vendor time, so the browser needs neither.
const { feature } = require("topojson-client");
const atlas = JSON.parse(readFileSync(join(nm, "world-atlas", "countries-10m.json"), "utf8"));
const keep = atlas.objects.countries.geometries.filter(g => g.id === "704" || g.properties?.name === "Spratly Is.");
const geo = feature(atlas, { type: "GeometryCollection", geometries: keep });
for (const f of geo.features) f.properties = { name: f.properties.name };
const round = c => Array.isArray(c[0]) ? c.map(round) : [Math.round(c[0] * 1e4) / 1e4, Math.round(c[1] * 1e4) / 1e4];
for (const f of geo.features) f.geometry.coordinates = round(f.geometry.coordinates);
const atlasVer = pkg("world-atlas").version;
vendor("world-atlas", `vietnam-outline-${atlasVer}`, [[{ data: JSON.stringify(geo) }, "vietnam.geojson"], lic("world-atlas")], {
  source: "Natural Earth 1:10m countries (public domain), via world-atlas countries-10m.json; converted with topojson-client " + pkg("topojson-client").version,
});
manifest.push({ name: "topojson-client", version: pkg("topojson-client").version, license: pkg("topojson-client").license, homepage: "https://github.com/topojson/topojson-client", files: [], note: "used at vendor time only, to write vietnam.geojson" });

writeFileSync(join(out, "MANIFEST.json"), JSON.stringify({ generated_by: "scripts/ui-vendor.sh", packages: manifest }, null, 2) + "\n");
