// Live consistency ratio for the AHP pairwise form (the server recomputes it on submit).
(function () {
  const out = document.getElementById("live-cr");
  if (!out) return;
  const form = out.closest("form") || document;
  const riSelect = out.closest(".card-body").querySelector('select[name="ri"]');
  const tables = { saaty: out.dataset.riSaaty, cn: out.dataset.riCn };
  const ri = () => tables[riSelect ? riSelect.value : "saaty"].split(",").map(Number);
  const selects = Array.from(document.querySelectorAll('select[name^="pair-"]'));
  const n = Number(out.dataset.n);
  if (n < 3 || selects.length !== (n * (n - 1)) / 2) return;
  const parse = (v) => (v.startsWith("1/") ? 1 / Number(v.slice(2)) : Number(v));

  function update() {
    const a = Array.from({ length: n }, () => new Array(n).fill(1));
    let k = 0;
    for (let i = 0; i < n; i++) {
      for (let j = i + 1; j < n; j++) {
        const v = parse(selects[k++].value);
        a[i][j] = v;
        a[j][i] = 1 / v;
      }
    }
    // principal eigenvector by power iteration
    let w = new Array(n).fill(1 / n);
    let lambda = n;
    for (let it = 0; it < 200; it++) {
      const next = a.map((row) => row.reduce((s, x, j) => s + x * w[j], 0));
      const sum = next.reduce((s, x) => s + x, 0);
      lambda = sum;  // since w sums to 1, Σ(Aw) → λmax
      w = next.map((x) => x / sum);
    }
    const ci = (lambda - n) / (n - 1);
    const table = ri();
    const cr = table[n - 1] > 0 ? ci / table[n - 1] : 0;
    const span = out.querySelector("span");
    span.textContent = "CR = " + cr.toFixed(3) + (cr < 0.1 ? " ✓" : " ✗");
    span.className = cr < 0.1 ? "text-success fw-semibold" : "text-danger fw-semibold";
  }
  selects.forEach((s) => s.addEventListener("change", update));
  if (riSelect) riSelect.addEventListener("change", update);
  update();
})();
