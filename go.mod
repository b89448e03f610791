module github.com/moxing/moxing

go 1.26
