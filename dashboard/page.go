package dashboard

import (
	"embed"
	"io/fs"
	"net/http"
)

//go:embed web
var webFS embed.FS

// PageHandler serves the live-feed page and its assets. The page holds no
// data of its own: it needs a token to open the feed.
func PageHandler() http.Handler {
	sub, err := fs.Sub(webFS, "web")
	if err != nil {
		panic("dashboard: embedded web dir missing: " + err.Error())
	}
	return http.FileServerFS(sub)
}
