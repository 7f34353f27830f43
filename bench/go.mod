module github.com/humanos/human/bench

go 1.26.0

require github.com/humanos/human v0.0.0

replace github.com/humanos/human => ../
