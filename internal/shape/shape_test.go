package shape

import (
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

const (
	maxFileLines = 400
	maxFuncLines = 80 // from the body's opening brace to its closing one
)

// productFiles are the Go files of internal/ and cmd/ that are not tests, parsed.
func productFiles(t *testing.T) (*token.FileSet, map[string]*ast.File) {
	t.Helper()
	fset := token.NewFileSet()
	files := map[string]*ast.File{}
	for _, root := range []string{"../../internal", "../../cmd"} {
		err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() || !strings.HasSuffix(p, ".go") || strings.HasSuffix(p, "_test.go") {
				return err
			}
			f, err := parser.ParseFile(fset, p, nil, 0)
			if err != nil {
				return err
			}
			files[p] = f
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	if len(files) < 100 {
		t.Fatalf("found %d product files: the walk is not where the code is", len(files))
	}
	return fset, files
}

func TestFileAndFunctionSizes(t *testing.T) {
	fset, files := productFiles(t)
	for p, f := range files {
		if n := fset.File(f.Pos()).LineCount(); n > maxFileLines {
			t.Errorf("%s: %d lines, over %d: split it along its ideas", p, n, maxFileLines)
		}
		ast.Inspect(f, func(n ast.Node) bool {
			var body *ast.BlockStmt
			name := "a func literal"
			switch fn := n.(type) {
			case *ast.FuncDecl:
				body, name = fn.Body, fn.Name.Name
			case *ast.FuncLit:
				body = fn.Body
			}
			if body != nil {
				from, to := fset.Position(body.Lbrace).Line, fset.Position(body.Rbrace).Line
				if to-from > maxFuncLines {
					t.Errorf("%s:%d: %s is %d lines, over %d", p, from, name, to-from, maxFuncLines)
				}
			}
			return true
		})
	}
}

func TestOnlyOCIImportsRemote(t *testing.T) {
	_, files := productFiles(t)
	for p, f := range files {
		if strings.HasPrefix(filepath.ToSlash(p), "../../internal/oci/") {
			continue
		}
		for _, im := range f.Imports {
			path, _ := strconv.Unquote(im.Path.Value)
			if strings.HasPrefix(path, "github.com/google/go-containerregistry/pkg/v1/remote") {
				t.Errorf("%s imports %s: reach registries through internal/oci", p, path)
			}
		}
	}
}
