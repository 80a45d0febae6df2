/** Tailwind scans templates, the Go code that picks class names, and our scripts; the output is static/dist/app.css (committed, rebuilt by `make generate`). */
module.exports = {
  content: ["./views/**/*.{templ,go}", "./handlers/**/*.go", "./static/js/**/*.js"],
  theme: {
    extend: {},
  },
  plugins: [],
};
